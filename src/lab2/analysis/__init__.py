"""Parameters, multiply-accumulates, receptive fields and time of a network, layer by layer.

Pure functions over an ``nn.Sequential`` (or the layer list the project's CNNs are built from)
and an input size; no Lightning needed. :func:`analyze_network` gathers everything;
:mod:`lab2.analysis.report` turns the result into tables.
"""

from lab2.analysis.cost import counted_macs, layer_macs, network_macs, time_layers
from lab2.analysis.fields import Field, measure_fields, reach, receptive_fields
from lab2.analysis.summary import LayerAnalysis, NetworkAnalysis, analyze_network

__all__ = [
    "Field",
    "LayerAnalysis",
    "NetworkAnalysis",
    "analyze_network",
    "counted_macs",
    "layer_macs",
    "measure_fields",
    "network_macs",
    "reach",
    "receptive_fields",
    "time_layers",
]
