"""Convolutional networks built from a list of layers, as MATLAB's ``layers = [...]`` arrays are.

A network is written in a config as a list of plain dicts, one per layer::

    - {type: conv, out_channels: 25, kernel_size: 3}
    - {type: relu}
    - {type: maxpool, kernel_size: 2, stride: 2}
    - {type: linear, out_features: 10}

:func:`build_layers` turns such a list into an ``nn.Sequential`` of standard torch modules,
working out every layer's input size from the input shape, so no layer repeats what the one
before it produces. Modules are named ``<type><k>`` (``conv1``, ``relu1``, ``conv2``, ...) unless a
layer gives its own ``name`` (the lab's "blue" and "red" layers). A ``linear`` layer that follows
an image-shaped output gets a ``flatten`` in front of it, as MATLAB's fully connected layer
flattens implicitly.

Weights follow MATLAB's defaults: Glorot (Xavier) uniform, biases zero.
"""

from __future__ import annotations

import copy
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import nn

from lab2.errors import InputError

LayerSpec = Mapping[str, Any]
Shape = tuple[int, ...]  # one example's shape: (C, H, W) or (F,)


def _conv(spec: LayerSpec, shape: Shape) -> nn.Module:
    return nn.Conv2d(
        shape[0],
        spec["out_channels"],
        spec["kernel_size"],
        stride=spec.get("stride", 1),
        padding=spec.get("padding", 0),
        dilation=spec.get("dilation", 1),
        bias=spec.get("bias", True),
    )


def _pool(kind: type[nn.Module]) -> Callable[[LayerSpec, Shape], nn.Module]:
    def make(spec: LayerSpec, shape: Shape) -> nn.Module:
        kernel = spec["kernel_size"]
        return kind(kernel, stride=spec.get("stride", kernel), padding=spec.get("padding", 0))

    return make


class Flatten(nn.Flatten):
    """``nn.Flatten`` (from dimension 1, in the default channel-first order), whose gradient goes
    back in its input's memory order.

    The task computes in channels-last order (see :class:`~lab2.tasks.classifier.ImageClassifier`).
    ``nn.Flatten``'s gradient comes back in the default order, so the max pooling and ReLU
    before it converted it, and their own gradients, at every step: 4.5 of basic_cnn's 14 ms
    per step of 128 digits on this project's CPU. The features and their order are
    ``nn.Flatten``'s, so weights trained with either are interchangeable.
    """

    def __init__(self) -> None:
        super().__init__(start_dim=1, end_dim=-1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _FlattenKeepingOrder.apply(x)


class _FlattenKeepingOrder(torch.autograd.Function):
    @staticmethod
    def forward(ctx: Any, x: torch.Tensor) -> torch.Tensor:
        ctx.shape = x.shape
        ctx.channels_last = (
            x.dim() == 4
            and not x.is_contiguous()
            and x.is_contiguous(memory_format=torch.channels_last)
        )
        return x.flatten(1)  # (N, C*H*W), channel-first whatever the memory order

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.reshape(ctx.shape)
        return grad.contiguous(memory_format=torch.channels_last) if ctx.channels_last else grad


def _batchnorm(spec: LayerSpec, shape: Shape) -> nn.Module:
    return nn.BatchNorm2d(shape[0]) if len(shape) == 3 else nn.BatchNorm1d(shape[0])


# type -> (factory, settings it takes beyond `type` and `name`, settings it requires)
LAYERS: dict[str, tuple[Callable[[LayerSpec, Shape], nn.Module], set[str], set[str]]] = {
    "conv": (
        _conv,
        {"out_channels", "kernel_size", "stride", "padding", "dilation", "bias"},
        {"out_channels", "kernel_size"},
    ),
    "relu": (lambda spec, shape: nn.ReLU(), set(), set()),
    "maxpool": (_pool(nn.MaxPool2d), {"kernel_size", "stride", "padding"}, {"kernel_size"}),
    "avgpool": (_pool(nn.AvgPool2d), {"kernel_size", "stride", "padding"}, {"kernel_size"}),
    "global_avgpool": (lambda spec, shape: nn.AdaptiveAvgPool2d(1), set(), set()),
    "batchnorm": (_batchnorm, set(), set()),
    "dropout": (lambda spec, shape: nn.Dropout(spec.get("p", 0.5)), {"p"}, set()),
    "flatten": (lambda spec, shape: Flatten(), set(), set()),
    "linear": (
        lambda spec, shape: nn.Linear(shape[0], spec["out_features"], bias=spec.get("bias", True)),
        {"out_features", "bias"},
        {"out_features"},
    ),
}
_NEEDS_IMAGE = {"conv", "maxpool", "avgpool", "global_avgpool"}


def build_layers(layers: Sequence[LayerSpec], input_shape: Sequence[int]) -> nn.Sequential:
    """Builds the network that ``layers`` describes, for inputs of ``input_shape``.

    Args:
        layers: one dict per layer; ``type`` is one of :data:`LAYERS`, the other keys are that
            layer's settings (``kernel_size``, ``stride``, ...) and an optional ``name``.
        input_shape: one example's shape, ``(C, H, W)``.

    Returns:
        An ``nn.Sequential`` of named torch modules, Glorot-initialised.

    Raises:
        InputError: an unknown layer type or setting, a missing setting, a duplicate name, or a
            layer whose output would be empty for this input size.

    Example:
        >>> net = build_layers(
        ...     [{"type": "conv", "out_channels": 25, "kernel_size": 3}, {"type": "relu"},
        ...      {"type": "maxpool", "kernel_size": 2}, {"type": "linear", "out_features": 10}],
        ...     input_shape=(1, 28, 28))
        >>> list(net.named_children())[3]
        ('flatten', Flatten(start_dim=1, end_dim=-1))
        >>> net(torch.zeros(2, 1, 28, 28)).shape
        torch.Size([2, 10])
    """
    shape: Shape = tuple(int(s) for s in input_shape)
    modules: OrderedDict[str, nn.Module] = OrderedDict()
    counts: dict[str, int] = {}

    for index, spec in enumerate(layers):
        kind = _check_spec(index, spec)
        if kind == "linear" and len(shape) > 1:
            shape = _add(modules, "flatten", Flatten(), shape, index, spec)
        if kind in _NEEDS_IMAGE and len(shape) != 3:
            raise InputError(f"layer {index} ({kind}) needs an image input, got shape {shape}")

        counts[kind] = counts.get(kind, 0) + 1
        name = spec.get("name") or f"{kind}{counts[kind]}"
        if name in modules:
            raise InputError(f"layer {index}: the name {name!r} is used twice")
        factory = LAYERS[kind][0]
        shape = _add(modules, name, factory(spec, shape), shape, index, spec)

    network = nn.Sequential(modules)
    glorot_init(network)
    return network


def output_shapes(network: nn.Sequential, input_shape: Sequence[int]) -> list[Shape]:
    """The shape of one example after each layer of ``network``."""
    x = torch.zeros(2, *input_shape, device="meta")  # no data: shapes only
    shapes = []
    for module in copy.deepcopy(network).to("meta"):
        x = module(x)
        shapes.append(tuple(x.shape[1:]))
    return shapes


def glorot_init(network: nn.Module) -> None:
    """MATLAB's defaults: Glorot-uniform weights and zero biases for conv and linear layers."""
    for module in network.modules():
        if isinstance(module, (nn.Conv2d, nn.Linear)):
            nn.init.xavier_uniform_(module.weight)
            if module.bias is not None:
                nn.init.zeros_(module.bias)


def count_parameters(network: nn.Module) -> int:
    """The number of trainable parameters."""
    return sum(p.numel() for p in network.parameters() if p.requires_grad)


def _check_spec(index: int, spec: LayerSpec) -> str:
    kind = spec.get("type")
    if kind not in LAYERS:
        raise InputError(f"layer {index}: type must be one of {sorted(LAYERS)}, got {kind!r}")
    _, allowed, required = LAYERS[kind]
    unknown = set(spec) - allowed - {"type", "name"}
    if unknown:
        raise InputError(
            f"layer {index} ({kind}): unknown setting(s) {sorted(unknown)}; "
            f"it takes {sorted(allowed) or 'none'}"
        )
    missing = required - set(spec)
    if missing:
        raise InputError(f"layer {index} ({kind}): missing setting(s) {sorted(missing)}")
    return kind


def _add(
    modules: OrderedDict[str, nn.Module],
    name: str,
    module: nn.Module,
    shape: Shape,
    index: int,
    spec: LayerSpec,
) -> Shape:
    """Appends ``module`` and returns the shape of one example after it."""
    probe = copy.deepcopy(module).to("meta")  # shapes only, no arithmetic
    try:
        out = probe(torch.zeros(2, *shape, device="meta"))  # 2: batch norm refuses a batch of 1
    except RuntimeError as error:
        raise InputError(
            f"layer {index} ({dict(spec)}) cannot take an input of shape {shape}: {error}"
        ) from error
    if out.numel() == 0:
        raise InputError(
            f"layer {index} ({dict(spec)}) leaves nothing of an input of shape {shape}"
        )
    modules[name] = module
    return tuple(out.shape[1:])
