"""One call that analyses a network layer by layer, every figure checked a second way."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import accumulate

import torch
from torch import nn

from lab2.analysis.cost import counted_macs, network_macs, time_layers
from lab2.analysis.fields import (
    Extent,
    Field,
    check_supported,
    measure_fields,
    probe_unit,
    reach,
    receptive_fields,
    unit_extent,
)
from lab2.errors import InputError
from lab2.models.cnn import LayerSpec, Shape, build_layers, count_parameters, output_shapes


@dataclass(frozen=True)
class LayerAnalysis:
    """The figures of one layer, for one image unless said otherwise.

    Attributes:
        name: the layer's name in the network (``conv1``, ``blue``, ...).
        kind: the torch module's class name.
        output_shape: one example's shape after the layer.
        parameters: its trainable parameters.
        macs: its multiply-accumulates, by formula (:func:`~lab2.analysis.cost.layer_macs`).
        counted_macs: the same, counted by torch's ``FlopCounterMode``.
        total_parameters: parameters of this layer and all before it.
        total_macs: MACs of this layer and all before it.
        field: the ``(height, width)`` receptive field by the recurrence (padding counted).
        unit: the ``(row, column)`` of the unit whose field was measured.
        predicted: that unit's ``(height, width)`` extent in the image, by enumeration.
        measured: the same, measured by back-propagation.
        seconds: the median forward time of the layer for one batch, if timed.
    """

    name: str
    kind: str
    output_shape: Shape
    parameters: int
    macs: int
    counted_macs: int
    total_parameters: int
    total_macs: int
    field: tuple[Field, Field]
    unit: tuple[int, int]
    predicted: tuple[Extent | None, Extent | None]
    measured: tuple[Extent | None, Extent | None]
    seconds: float | None

    @property
    def clipped(self) -> bool:
        """Whether even the measured unit's field reaches past the image (or into padding),
        so that the image holds only part of it."""
        return any(
            e is None or e[1] - e[0] + 1 < f.size
            for e, f in zip(self.predicted, self.field, strict=True)
        )

    @property
    def fields_agree(self) -> bool:
        """Whether the measured field is the enumerated one and, where it is not clipped, the
        size the recurrence gives."""
        sizes_match = self.clipped or all(
            e is not None and e[1] - e[0] + 1 == f.size
            for e, f in zip(self.measured, self.field, strict=True)
        )
        return self.measured == self.predicted and sizes_match

    @property
    def macs_agree(self) -> bool:
        """Whether the MAC formula gives what torch's counter counts."""
        return self.macs == self.counted_macs

    @property
    def agrees(self) -> bool:
        """Whether every figure matches its second way of finding it."""
        return self.fields_agree and self.macs_agree


@dataclass(frozen=True)
class NetworkAnalysis:
    """The layer-by-layer figures of a network at one input size.

    Attributes:
        input_shape: one example's shape, ``(C, H, W)``.
        layers: one :class:`LayerAnalysis` per layer, in order.
        batch_size: images per timed forward pass.
        repeats: timed passes behind each median (0: not timed).
        threads: the CPU threads torch used.
    """

    input_shape: Shape
    layers: tuple[LayerAnalysis, ...]
    batch_size: int
    repeats: int
    threads: int

    @property
    def parameters(self) -> int:
        """All trainable parameters."""
        return self.layers[-1].total_parameters

    @property
    def macs(self) -> int:
        """All multiply-accumulates for one image."""
        return self.layers[-1].total_macs

    @property
    def seconds(self) -> float | None:
        """The sum of the layers' median times for one batch, if timed."""
        if self.repeats == 0:
            return None
        return sum(layer.seconds for layer in self.layers)  # type: ignore[misc]

    @property
    def output_field(self) -> tuple[Field, Field]:
        """The receptive field of the last layer."""
        return self.layers[-1].field

    def layer(self, name: str) -> LayerAnalysis:
        """The figures of the layer called ``name``.

        Raises:
            InputError: no layer has that name.
        """
        for layer in self.layers:
            if layer.name == name:
                return layer
        names = [layer.name for layer in self.layers]
        raise InputError(f"layer name must be one of {names}, got {name!r}")


def analyze_network(
    model: nn.Sequential | Sequence[LayerSpec],
    input_shape: Sequence[int],
    *,
    batch_size: int = 32,
    repeats: int = 0,
    warmup: int = 3,
) -> NetworkAnalysis:
    """Parameters, MACs, receptive field and (optionally) time of every layer of ``model``.

    Every figure is found two ways: MACs by formula and by torch's counter; the receptive
    field by the recurrence, by enumeration and by back-propagation (see
    :mod:`lab2.analysis.fields`). :attr:`LayerAnalysis.agrees` says whether they match.

    Args:
        model: an ``nn.Sequential``, or the layer list of :func:`~lab2.models.cnn.build_layers`.
        input_shape: one example's shape, ``(C, H, W)``.
        batch_size: images per timed forward pass.
        repeats: timed passes behind each layer's median time; 0 skips timing.
        warmup: untimed passes before the timed ones.

    Raises:
        InputError: a bad layer list or input size, a layer the analysis does not know, or a
            bad timing setting.

    Example:
        The basic network of Ex 2.11 and 2.14 on 28x28 digits:

        >>> basic = [{"type": "conv", "out_channels": 25, "kernel_size": 3}, {"type": "relu"},
        ...          {"type": "maxpool", "kernel_size": 2, "stride": 2},
        ...          {"type": "linear", "out_features": 10}]
        >>> result = analyze_network(basic, (1, 28, 28))
        >>> [(layer.name, layer.parameters, layer.macs) for layer in result.layers]
        ... # doctest: +NORMALIZE_WHITESPACE
        [('conv1', 250, 152100), ('relu1', 0, 0), ('maxpool1', 0, 0), ('flatten', 0, 0),
         ('linear1', 42260, 42250)]
        >>> result.parameters, result.layer("maxpool1").field[0].size
        (42510, 4)
        >>> all(layer.agrees for layer in result.layers)
        True
    """
    if not isinstance(repeats, int) or isinstance(repeats, bool) or repeats < 0:
        raise InputError(f"repeats must be a whole number >= 0, got {repeats!r}")
    input_shape = tuple(int(s) for s in input_shape)
    network = model if isinstance(model, nn.Sequential) else build_layers(model, input_shape)

    if len(network) == 0:
        raise InputError("model must have at least one layer, got none")
    check_supported(network)
    try:
        shapes = output_shapes(network, input_shape)
    except RuntimeError as error:  # torch's own complaint, e.g. a channel count that differs
        reason = str(error).splitlines()[0]
        raise InputError(f"input_shape {input_shape} does not fit the network: {reason}") from None
    parameters = [count_parameters(module) for module in network]
    macs = network_macs(network, input_shape)
    fields = receptive_fields(network, input_shape)
    extents = reach(network, input_shape)
    units = [
        (probe_unit(height, reach_h), probe_unit(width, reach_w))
        for (height, width), (reach_h, reach_w) in zip(fields, extents, strict=True)
    ]
    measured = measure_fields(network, input_shape, units)
    counted = counted_macs(network, input_shape)
    seconds: list[float | None] = [None] * len(network)
    if repeats:
        seconds = list(
            time_layers(network, input_shape, batch_size=batch_size, repeats=repeats, warmup=warmup)
        )

    layers = tuple(
        LayerAnalysis(
            name=name,
            kind=type(module).__name__,
            output_shape=shapes[i],
            parameters=parameters[i],
            macs=macs[i],
            counted_macs=counted[i],
            total_parameters=total_parameters,
            total_macs=total_macs,
            field=fields[i],
            unit=units[i],
            predicted=unit_extent(extents[i], units[i]),
            measured=measured[i],
            seconds=seconds[i],
        )
        for i, ((name, module), total_parameters, total_macs) in enumerate(
            zip(network.named_children(), accumulate(parameters), accumulate(macs), strict=True)
        )
    )
    return NetworkAnalysis(input_shape, layers, batch_size, repeats, torch.get_num_threads())
