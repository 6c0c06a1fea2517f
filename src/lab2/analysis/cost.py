"""The cost of each layer: multiply-accumulates by formula and by torch's counter, and time.

A multiply-accumulate (MAC) is one ``a += w * x``. Only layers with weights do them:

    convolution:      MACs = H_out * W_out * C_out * (C_in / groups) * k_h * k_w
    fully connected:  MACs = F_in * F_out

for one image; the bias adds are not counted, as torch's
:class:`~torch.utils.flop_counter.FlopCounterMode` does not count them either (it counts two
floating-point operations per MAC). Pooling, ReLU and batch norm do comparisons or one
multiply per value, no weighted sums; their cost shows only in the measured time.
"""

from __future__ import annotations

import copy
import statistics
import time
from collections.abc import Sequence

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from lab2.errors import InputError
from lab2.models.cnn import Shape, output_shapes


def layer_macs(module: nn.Module, input_shape: Shape, output_shape: Shape) -> int:
    """Multiply-accumulates of one layer for one image, by the formulas above.

    Args:
        module: the layer.
        input_shape: one example's shape going in, ``(C, H, W)`` or ``(F,)``.
        output_shape: one example's shape coming out.

    Example:
        The convolution of Ex 2.11: 25 filters of 3x3 on a 28x28 image give 26x26x25 values,
        each a sum of 9 products.

        >>> layer_macs(nn.Conv2d(1, 25, 3), (1, 28, 28), (25, 26, 26))
        152100
        >>> layer_macs(nn.Linear(4225, 10), (4225,), (10,))
        42250
    """
    if isinstance(module, nn.Conv2d):
        c_out, h_out, w_out = output_shape
        k_h, k_w = module.kernel_size
        return h_out * w_out * c_out * (module.in_channels // module.groups) * k_h * k_w
    if isinstance(module, nn.Linear):
        return module.in_features * module.out_features
    return 0


def network_macs(network: nn.Sequential, input_shape: Sequence[int]) -> list[int]:
    """:func:`layer_macs` of every layer of ``network``, for one image of ``input_shape``.

    Example:
        >>> network_macs(nn.Sequential(nn.Conv2d(3, 8, 3, stride=2), nn.ReLU()), (3, 9, 9))
        [3456, 0]
        >>> 4 * 4 * 8 * 3 * 3 * 3
        3456
    """
    shapes = [tuple(int(s) for s in input_shape), *output_shapes(network, input_shape)]
    return [layer_macs(module, shapes[i], shapes[i + 1]) for i, module in enumerate(network)]


def counted_macs(network: nn.Sequential, input_shape: Sequence[int]) -> list[int]:
    """Multiply-accumulates of every layer for one image, as torch's ``FlopCounterMode``
    counts them (half its floating-point operations): a check of :func:`network_macs` that
    shares no code with it.

    The network runs on the ``meta`` device, so nothing is computed and any size is cheap.

    Example:
        >>> counted_macs(nn.Sequential(nn.Conv2d(3, 8, 3, stride=2), nn.ReLU()), (3, 9, 9))
        [3456, 0]
    """
    x = torch.zeros(1, *input_shape, device="meta")  # (1, C, H, W)
    counts = []
    for module in copy.deepcopy(network).to("meta").eval():
        with FlopCounterMode(display=False) as counter:
            x = module(x)
        flops = counter.get_total_flops()
        assert flops % 2 == 0, f"{module}: an odd number of flops is not whole MACs"
        counts.append(flops // 2)
    return counts


@torch.inference_mode()
def time_layers(
    network: nn.Sequential,
    input_shape: Sequence[int],
    *,
    batch_size: int = 32,
    repeats: int = 20,
    warmup: int = 3,
    seed: int = 0,
) -> list[float]:
    """The forward time of each layer in seconds on this machine: the median over ``repeats``
    passes of a batch of ``batch_size`` random images, after ``warmup`` passes that are not
    timed.

    Each pass times every layer in turn, so a disturbance (another process, a frequency
    change) falls on all layers alike instead of on the ones that happened to be timed during
    it; the median then ignores passes that were disturbed anyway. The network runs in eval
    mode on a copy, on the CPU, with torch's current number of threads.

    Args:
        network: the layers, in order (left as it is).
        input_shape: one example's shape, ``(C, H, W)``.
        batch_size: images per pass.
        repeats: timed passes.
        warmup: passes before timing (allocation, kernel selection).
        seed: for the random images.

    Raises:
        InputError: ``batch_size`` or ``repeats`` below 1, or ``warmup`` below 0.

    Example:
        >>> times = time_layers(nn.Sequential(nn.Conv2d(1, 4, 3), nn.ReLU()), (1, 16, 16),
        ...                     batch_size=2, repeats=3)
        >>> len(times), all(t > 0 for t in times)
        (2, True)
    """
    for name, value, least in [
        ("batch_size", batch_size, 1),
        ("repeats", repeats, 1),
        ("warmup", warmup, 0),
    ]:
        if not isinstance(value, int) or isinstance(value, bool) or value < least:
            raise InputError(f"{name} must be a whole number >= {least}, got {value!r}")

    model = copy.deepcopy(network).eval()
    generator = torch.Generator().manual_seed(seed)
    x = torch.randn(batch_size, *input_shape, generator=generator)  # (N, C, H, W)
    samples: list[list[float]] = [[] for _ in model]

    for repeat in range(warmup + repeats):
        h = x
        for index, module in enumerate(model):
            begin = time.perf_counter()
            h = module(h)
            elapsed = time.perf_counter() - begin
            if repeat >= warmup:
                samples[index].append(elapsed)
    return [statistics.median(s) for s in samples]
