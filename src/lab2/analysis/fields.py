"""Receptive fields, layer by layer: by the analytic recurrence, by enumeration, and measured.

Along one dimension (height or width, treated separately: every layer here acts on the two
independently), the units of a layer sit on a grid in input pixels. Unit ``i`` sees the input
pixels ``start + i * jump ... start + i * jump + size - 1``. A layer with kernel ``k``, stride
``s``, padding ``p`` (on the low side) and dilation ``d`` maps the field of its input to

    k_eff  = d * (k - 1) + 1                  (the span of a dilated kernel)
    size'  = size + (k_eff - 1) * jump        (each tap one input step further)
    jump'  = jump * s
    start' = start - p * jump                 (unit 0's window begins p steps before unit 0)

starting from ``size = jump = 1``, ``start = 0`` at the input. Pooling is a window like a
convolution; a fully connected layer (or a global pooling) is a window over every position of
its input, so its field is the union of all of them. Pointwise layers (ReLU, batch norm,
dropout) and ``Flatten`` leave the field alone.

The recurrence gives the textbook figures, which count padding as if it were image. Where a
field reaches past the image, the pixels a unit really depends on are fewer; :func:`reach`
works them out exactly by enumerating every unit's window, and :func:`measure_fields` finds
them empirically from a gradient. Where a unit's nominal field lies inside the image, all three
agree (every unit in its window tree is then a real unit, not padding: a unit left of the
first one starts its field before pixel 0, one right of the last ends it after the last pixel).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import nn

from lab2.errors import InputError
from lab2.models.cnn import Shape, output_shapes

Extent = tuple[int, int]  # the first and the last input pixel of a field, inclusive

# Modules that act on each position separately, so they change no field.
POINTWISE: tuple[type[nn.Module], ...] = (
    nn.ReLU,
    nn.LeakyReLU,
    nn.ELU,
    nn.GELU,
    nn.SiLU,
    nn.Sigmoid,
    nn.Tanh,
    nn.Identity,
    nn.Dropout,
    nn.Dropout2d,
    nn.BatchNorm1d,
    nn.BatchNorm2d,
    nn.Flatten,  # keeps each unit's field; only the layout of the units changes
)
WINDOWED: tuple[type[nn.Module], ...] = (
    nn.Conv2d,
    nn.MaxPool2d,
    nn.AvgPool2d,
    nn.AdaptiveAvgPool2d,
    nn.AdaptiveMaxPool2d,
    nn.Linear,
)


@dataclass(frozen=True)
class Field:
    """The receptive field of a layer's units along one dimension.

    Attributes:
        size: pixels from the first to the last one a unit sees, padding included.
        jump: pixels between the fields of neighbouring units (the product of strides so far).
        start: the first pixel of unit 0's field; negative where it reaches into padding.
        positions: units along this dimension (1 after a fully connected layer).
    """

    size: int
    jump: int
    start: int
    positions: int

    def span(self, unit: int) -> Extent:
        """The first and last pixel of unit ``unit``'s field, padding included.

        Example:
            >>> Field(size=3, jump=1, start=-1, positions=28).span(0)
            (-1, 1)
        """
        first = self.start + unit * self.jump
        return first, first + self.size - 1


@dataclass(frozen=True)
class Window:
    """One layer's window along one dimension.

    A ``dense`` window covers every position at once (kernel = stride = positions), as a fully
    connected layer does; it leaves one unit, so its jump says nothing about neighbours.
    """

    kernel: int
    stride: int
    padding: int  # on the low side (top or left)
    dilation: int
    dense: bool = False


def receptive_fields(
    network: nn.Sequential, input_shape: Sequence[int]
) -> list[tuple[Field, Field]]:
    """The receptive field after every layer of ``network``, by the recurrence above.

    Args:
        network: the layers, in order.
        input_shape: one example's shape, ``(C, H, W)``.

    Returns:
        One ``(height, width)`` pair of :class:`Field` per layer.

    Raises:
        InputError: a layer whose field this module cannot describe (see :data:`POINTWISE`
            and :data:`WINDOWED`).

    Example:
        The network of Ex 2.11: a 3x3 convolution, ReLU, a 2x2 max pool with stride 2 and a
        fully connected layer. After the pool the field is 3 + (2 - 1) * 1 = 4 pixels wide,
        and neighbouring units are 2 pixels apart; the fully connected layer sees all 13
        positions, 4 + 12 * 2 = 28 pixels, the whole image.

        >>> from lab2.models.cnn import build_layers
        >>> net = build_layers(
        ...     [{"type": "conv", "out_channels": 25, "kernel_size": 3}, {"type": "relu"},
        ...      {"type": "maxpool", "kernel_size": 2}, {"type": "linear", "out_features": 10}],
        ...     input_shape=(1, 28, 28))
        >>> [(h.size, h.jump) for h, w in receptive_fields(net, (1, 28, 28))]
        [(3, 1), (3, 1), (4, 2), (4, 2), (28, 26)]
    """
    fields = []
    height = Field(size=1, jump=1, start=0, positions=int(input_shape[1]))
    width = Field(size=1, jump=1, start=0, positions=int(input_shape[2]))
    check_supported(network)
    shapes = output_shapes(network, input_shape)
    for module, in_shape, shape in zip(network, [input_shape, *shapes], shapes, strict=False):
        windows = layer_windows(module, in_shape, (height.positions, width.positions))
        if windows is not None:
            height = _grow(height, windows[0], shape, axis=1)
            width = _grow(width, windows[1], shape, axis=2)
        fields.append((height, width))
    return fields


def _grow(field: Field, window: Window, out_shape: Shape, axis: int) -> Field:
    k_eff = window.dilation * (window.kernel - 1) + 1
    return Field(
        size=field.size + (k_eff - 1) * field.jump,
        jump=field.jump * window.stride,
        start=field.start - window.padding * field.jump,
        positions=1 if window.dense else out_shape[axis],
    )


def layer_windows(
    module: nn.Module, input_shape: Shape, positions: tuple[int, int]
) -> tuple[Window, Window] | None:
    """The ``(height, width)`` windows of one layer, or ``None`` for a pointwise layer.

    Args:
        module: the layer.
        input_shape: one example's shape going into it.
        positions: units along height and width of its input (its grid, for a flat input).

    Raises:
        InputError: a module this analysis does not know, an adaptive pooling whose windows
            are uneven, or a fully connected layer on an image-shaped input.
    """
    if isinstance(module, POINTWISE):
        return None
    if isinstance(module, nn.Linear):
        if len(input_shape) != 1:
            raise InputError(
                f"layer {module}: a fully connected layer needs a flat input (put a Flatten "
                f"before it), got shape {tuple(input_shape)}"
            )
        return (
            Window(positions[0], positions[0], 0, 1, dense=True),
            Window(positions[1], positions[1], 0, 1, dense=True),
        )
    if isinstance(module, (nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)):
        return _adaptive_windows(module, positions)
    if not isinstance(module, (nn.Conv2d, nn.MaxPool2d, nn.AvgPool2d)):
        raise _unknown(type(module).__name__, module)
    kernel = _pair(module.kernel_size)
    stride = _pair(module.stride or module.kernel_size)
    dilation = _pair(getattr(module, "dilation", 1))
    padding = _low_padding(module.padding, kernel, dilation)
    return tuple(  # type: ignore[return-value]
        Window(kernel[a], stride[a], padding[a], dilation[a]) for a in range(2)
    )


def check_supported(network: nn.Sequential) -> None:
    """Raises :class:`InputError` naming the first layer whose field this module cannot
    describe: one that is neither in :data:`POINTWISE` nor in :data:`WINDOWED`."""
    for name, module in network.named_children():
        if not isinstance(module, POINTWISE + WINDOWED):
            raise _unknown(name, module)
        if isinstance(module, nn.Flatten) and (module.start_dim, module.end_dim) != (1, -1):
            raise InputError(f"layer {name}: only Flatten() of all but the batch dimension")


def _unknown(name: str, module: nn.Module) -> InputError:
    known = sorted(t.__name__ for t in POINTWISE + WINDOWED)
    return InputError(f"layer {name}: the analysis knows {known}, not {type(module).__name__}")


def _adaptive_windows(module: nn.Module, positions: tuple[int, int]) -> tuple[Window, Window]:
    # An adaptive pool's windows are all alike only when the output size divides the input
    # size; then it is a plain pool with kernel = stride = n_in / n_out.
    wanted = _pair(module.output_size)
    windows = []
    for n_in, n_out in zip(positions, wanted, strict=True):
        n_out = n_in if n_out is None else n_out
        if n_in % n_out:
            raise InputError(
                f"layer {module}: an adaptive pool from {n_in} to {n_out} positions has uneven "
                "windows; the analysis needs an output size that divides the input size"
            )
        windows.append(Window(n_in // n_out, n_in // n_out, 0, 1))
    return windows[0], windows[1]


def _pair(value: int | Sequence[int | None]) -> tuple:
    return (value, value) if isinstance(value, int) or value is None else tuple(value)


def _low_padding(
    padding: int | str | Sequence[int], kernel: tuple[int, int], dilation: tuple[int, int]
) -> tuple[int, int]:
    if padding == "valid":
        return 0, 0
    if padding == "same":
        # torch pads d * (k - 1) in all, the smaller half on the low side (Conv2d's
        # _reversed_padding_repeated_twice), so an even kernel gets one more pixel below.
        return tuple((d * (k - 1)) // 2 for k, d in zip(kernel, dilation, strict=True))
    return _pair(padding)


def reach(network: nn.Sequential, input_shape: Sequence[int]) -> list[tuple[list, list]]:
    """The input pixels every unit of every layer really depends on, by enumeration.

    Unlike :func:`receptive_fields`, this counts no padding: a unit's extent is the smallest
    interval holding the extents of the real (non-padding) units in its window, and ``None``
    for a unit whose window holds padding only.

    Args:
        network: the layers, in order.
        input_shape: one example's shape, ``(C, H, W)``.

    Returns:
        Per layer a ``(height, width)`` pair of lists with one :data:`Extent` (or ``None``)
        per unit.

    Example:
        A 3x3 convolution with padding 1 on a 4-pixel-wide image: the border units see 2
        pixels of image and one of padding.

        >>> net = nn.Sequential(nn.Conv2d(1, 1, 3, padding=1))
        >>> reach(net, (1, 4, 4))[0][1]
        [(0, 1), (0, 2), (1, 3), (2, 3)]
    """
    height = [(i, i) for i in range(int(input_shape[1]))]
    width = [(i, i) for i in range(int(input_shape[2]))]
    check_supported(network)
    shapes = output_shapes(network, input_shape)
    extents = []
    for module, in_shape, shape in zip(network, [input_shape, *shapes], shapes, strict=False):
        windows = layer_windows(module, in_shape, (len(height), len(width)))
        if windows is not None:
            height = _enumerate(height, windows[0], shape, axis=1)
            width = _enumerate(width, windows[1], shape, axis=2)
        extents.append((height, width))
    return extents


def _enumerate(units: list, window: Window, out_shape: Shape, axis: int) -> list:
    if window.dense:
        return [_hull(units)]
    out = []
    for i in range(out_shape[axis]):
        taps = (
            i * window.stride - window.padding + m * window.dilation for m in range(window.kernel)
        )
        out.append(_hull([units[t] for t in taps if 0 <= t < len(units)]))
    return out


def _hull(extents: list) -> Extent | None:
    real = [e for e in extents if e is not None]
    if not real:
        return None
    return min(e[0] for e in real), max(e[1] for e in real)


def unit_extent(
    layer_reach: tuple[list, list], unit: tuple[int, int]
) -> tuple[Extent | None, Extent | None]:
    """The ``(height, width)`` extent of one unit, from one layer of :func:`reach`.

    The field in 2D is the product of the two 1D ones, so a unit that sees no row sees no
    pixel at all, and then has no width either.

    Example:
        >>> unit_extent(([(0, 2), (1, 3)], [None, (0, 1)]), (1, 0))
        (None, None)
    """
    height, width = layer_reach[0][unit[0]], layer_reach[1][unit[1]]
    if height is None or width is None:
        return None, None
    return height, width


def probe_unit(field: Field, extents: list) -> int:
    """The unit to measure along one dimension: the one that sees the most image, and of
    those the one nearest the centre.

    A unit whose nominal field lies inside the image sees ``field.size`` pixels, the most any
    unit can, so that unit is chosen whenever there is one: its field is not clipped by the
    border and the measurement shows the whole of it.

    Example:
        A 3x3 field on a 4-pixel-wide image with padding 1: units 1 and 2 see all three of
        their pixels; 1 is as near the centre as 2, and comes first.

        >>> field = Field(size=3, jump=1, start=-1, positions=4)
        >>> probe_unit(field, [(0, 1), (0, 2), (1, 3), (2, 3)])
        1
    """
    centre = (field.positions - 1) / 2
    sizes = [0 if e is None else e[1] - e[0] + 1 for e in extents]
    return max(range(len(extents)), key=lambda i: (sizes[i], -abs(i - centre), -i))


def measure_fields(
    network: nn.Sequential,
    input_shape: Sequence[int],
    units: Sequence[tuple[int, int]],
) -> list[tuple[Extent | None, Extent | None]]:
    """The receptive field of one unit per layer, measured by back-propagation.

    A copy of the network gets weights and inputs that cannot cancel: every weight is
    ``1 / fan_in``, every bias ``0.1``, batch norm is the identity and the input is all ones,
    so every activation is positive, every ReLU passes its gradient, and the gradient of a unit
    with respect to a pixel is a sum of positive products, non-zero exactly where the pixel can
    change the unit. Max pooling sends its gradient to one element of its window only, so the
    copy averages instead: the field of a max is its whole window, since any element can be
    the largest. The field is the extent of the non-zero gradient, per dimension, in float64.

    Args:
        network: the layers, in order (left as it is).
        input_shape: one example's shape, ``(C, H, W)``.
        units: per layer, the ``(row, column)`` of the unit to measure on its grid (channel 0;
            a flat layer's grid is that of the map it flattened, a fully connected one's 1x1).

    Returns:
        Per layer the measured ``(height, width)`` extents, ``None`` where nothing reaches.

    Example:
        >>> net = nn.Sequential(nn.Conv2d(1, 2, 3, dilation=2), nn.MaxPool2d(2))
        >>> measure_fields(net, (1, 12, 12), [(3, 3), (1, 1)])
        [((3, 7), (3, 7)), ((2, 7), (2, 7))]
    """
    probe = positive_copy(network, input_shape)
    x = torch.ones(1, *input_shape, dtype=torch.float64, requires_grad=True)  # (1, C, H, W)
    outputs = []
    h = x
    for module in probe:
        h = module(h)
        outputs.append(h)

    measured = []
    grid_width = int(input_shape[2])
    for out, (row, column) in zip(outputs, units, strict=True):
        if out.dim() == 4:
            grid_width = out.shape[-1]
            unit = out[0, 0, row, column]
        else:  # a flat layer: Flatten laid channel 0's map out first, row by row
            unit = out[0, row * grid_width + column]
        (grad,) = torch.autograd.grad(unit, x, retain_graph=True)  # (1, C, H, W)
        reached = grad[0].ne(0).any(dim=0)  # (H, W)
        measured.append((_extent(reached.any(dim=1)), _extent(reached.any(dim=0))))
    return measured


def _extent(reached: torch.Tensor) -> Extent | None:
    where = reached.nonzero().flatten()
    if where.numel() == 0:
        return None
    return int(where[0]), int(where[-1])


@torch.no_grad()
def positive_copy(network: nn.Sequential, input_shape: Sequence[int]) -> nn.Sequential:
    """A float64 copy of ``network`` in eval mode whose every activation is positive for a
    positive input, with max pooling replaced by average pooling over the same windows."""
    probe = copy.deepcopy(network).double().eval()
    shapes = [tuple(input_shape), *output_shapes(network, input_shape)]
    for index, module in enumerate(probe):
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            module.weight.fill_(1.0 / module.weight[0].numel())  # 1 / fan_in (per group)
            if module.bias is not None:
                module.bias.fill_(0.1)
        elif isinstance(module, (nn.BatchNorm1d, nn.BatchNorm2d)):
            module.reset_parameters()  # weight 1, bias 0, running mean 0, running variance 1
        elif isinstance(module, nn.MaxPool2d):
            probe[index] = _averaging_pool(module, shapes[index][0])
        elif isinstance(module, nn.AdaptiveMaxPool2d):
            probe[index] = nn.AdaptiveAvgPool2d(module.output_size)
        if hasattr(module, "inplace"):
            module.inplace = False  # every layer's output is kept for its own gradient
    return probe


def _averaging_pool(pool: nn.MaxPool2d, channels: int) -> nn.Module:
    if _pair(pool.dilation) == (1, 1):
        return nn.AvgPool2d(pool.kernel_size, pool.stride, pool.padding, ceil_mode=pool.ceil_mode)
    if pool.ceil_mode:
        raise InputError(f"layer {pool}: a dilated max pool with ceil_mode=True is not supported")
    # AvgPool2d has no dilation; a depthwise convolution of ones averages the same taps.
    conv = nn.Conv2d(
        channels,
        channels,
        pool.kernel_size,
        stride=pool.stride,
        padding=pool.padding,
        dilation=pool.dilation,
        groups=channels,
        bias=False,
    ).double()
    conv.weight.fill_(1.0)
    return conv
