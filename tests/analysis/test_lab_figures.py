"""The figures the lab asks for (Ex 2.14, 2.16, 2.17 and the receptive-field bonus), from the
layer lists written out here and from the project's model configs."""

from pathlib import Path

import pytest
from torch import nn

from lab2.analysis.cost import counted_macs, time_layers
from lab2.analysis.report import ratio_line
from lab2.analysis.summary import analyze_network
from lab2.cli import config_dir
from lab2.cli.analyze import layer_chain, layer_chain_options, model_config
from lab2.errors import InputError

BASIC = [  # Ex 2.11, as the lab states it
    {"type": "conv", "out_channels": 25, "kernel_size": 3},
    {"type": "relu"},
    {"type": "maxpool", "kernel_size": 2, "stride": 2},
    {"type": "linear", "out_features": 10},
]


def from_config(name, input_size=None):
    """The network and input shape of ``conf/model/<name>.yaml``."""
    if not (Path(config_dir()) / "model" / f"{name}.yaml").is_file():
        pytest.skip(f"conf/model/{name}.yaml is not there")
    return layer_chain(name, model_config(name), input_size)


@pytest.mark.parametrize("source", ["ex2_11", "basic_cnn_config"])
def test_basic_cnn_figures_of_ex_2_14(source):
    model, input_shape = (BASIC, (1, 28, 28)) if source == "ex2_11" else from_config("basic_cnn")
    result = analyze_network(model, input_shape)
    conv, relu, pool, _flatten, fc = result.layers

    assert (conv.parameters, conv.output_shape, conv.macs) == (250, (25, 26, 26), 152_100)
    assert pool.output_shape == (25, 13, 13)
    assert (fc.parameters, fc.macs) == (42_260, 42_250)
    assert result.parameters == 42_510  # not the 44,510 of some published answers
    assert [layer.field[0].size for layer in (conv, relu, pool)] == [3, 3, 4]
    assert all(layer.field[0] == layer.field[1] for layer in result.layers)  # square
    assert fc.field[0].size == 28  # the whole image
    assert all(layer.agrees for layer in result.layers)


# Sizes divisible by 4, square and not, smaller and larger than the 36x36 field.
SIZES = [[28, 28], [32, 48], [64, 64], [100, 60]]


@pytest.mark.parametrize("size", SIZES, ids=str)
def test_cost_chain_figures_of_ex_2_16(size):
    network, input_shape = from_config("cost_chain", size)
    result = analyze_network(network, input_shape)
    blue, red = result.layer("blue"), result.layer("red")

    assert (blue.parameters, red.parameters) == (2_510, 5_020)
    assert red.macs * 8 == blue.macs  # exactly 1/8: twice the filters on 1/16 of the positions
    assert blue.macs == size[0] * size[1] * 10 * 10 * 5 * 5
    assert (red.field[0].size, red.field[1].size) == (36, 36)
    assert (red.field[0].jump, red.field[1].jump) == (4, 4)
    assert all(layer.agrees for layer in result.layers)
    assert red.clipped == (min(size) < 36)  # a 28x28 image holds only part of a 36x36 field
    assert "= 0.125 (1/8.0)" in ratio_line(result, "red", "blue")


@pytest.mark.parametrize("size", SIZES, ids=str)
def test_cost_chain_3x3_figures_of_ex_2_17(size):
    five = analyze_network(*from_config("cost_chain", size))
    three = analyze_network(*from_config("cost_chain_3x3", size))
    blue_a, blue_b = three.layer("blue_a"), three.layer("blue_b")

    assert blue_a.parameters + blue_b.parameters == 1_820  # from 2,510
    assert blue_a.macs + blue_b.macs < five.layer("blue").macs
    assert blue_b.field == five.layer("blue").field  # the same field as the 5x5 layer
    assert three.output_field == five.output_field
    assert (three.output_field[0].size, three.output_field[1].size) == (36, 36)
    assert all(layer.agrees for layer in three.layers)


def test_two_3x3_layers_see_what_one_5x5_layer_sees():
    conv = {"type": "conv", "out_channels": 10}
    one = analyze_network([{**conv, "kernel_size": 5}], (10, 32, 32))
    two = analyze_network(
        [{**conv, "kernel_size": 3}, {"type": "relu"}, {**conv, "kernel_size": 3}], (10, 32, 32)
    )
    assert one.output_field == two.output_field
    assert (one.parameters, two.parameters) == (2_510, 1_820)


def test_every_layer_chain_config_agrees_at_its_own_size():
    names = layer_chain_options()
    assert {"cost_chain", "cost_chain_3x3"} <= set(names)
    for name in names:
        network, input_shape = layer_chain(name, model_config(name), None)
        result = analyze_network(network, input_shape)
        bad = [layer.name for layer in result.layers if not layer.agrees]
        assert not bad, f"{name}: {bad}"


def test_formula_macs_match_torch_for_grouped_and_strided_convolutions():
    net = nn.Sequential(
        nn.Conv2d(4, 8, (3, 5), stride=(2, 1), padding=(1, 2), groups=2),
        nn.Conv2d(8, 8, 1, groups=8, bias=False),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(8, 3),
    )
    result = analyze_network(net, (4, 9, 11))
    assert [layer.macs for layer in result.layers] == counted_macs(net, (4, 9, 11))
    assert result.layers[0].macs == 5 * 11 * 8 * 2 * 3 * 5
    assert result.layers[1].macs == 5 * 11 * 8


def test_timing_gives_one_positive_median_per_layer():
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.MaxPool2d(2))
    times = time_layers(net, (1, 12, 12), batch_size=2, repeats=3, warmup=0)
    assert len(times) == 3
    assert all(t > 0 for t in times)
    result = analyze_network(net, (1, 12, 12), batch_size=2, repeats=2, warmup=0)
    assert result.seconds == pytest.approx(sum(layer.seconds for layer in result.layers))
    assert analyze_network(net, (1, 12, 12)).seconds is None  # not timed by default


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ({"repeats": 0}, r"repeats must be a whole number >= 1, got 0"),
        ({"batch_size": 0}, r"batch_size must be a whole number >= 1, got 0"),
        ({"warmup": -1}, r"warmup must be a whole number >= 0, got -1"),
        ({"repeats": 2.5}, r"repeats must be a whole number >= 1, got 2.5"),
    ],
)
def test_bad_timing_settings_are_named(setting, message):
    with pytest.raises(InputError, match=message):
        time_layers(nn.Sequential(nn.ReLU()), (1, 4, 4), **setting)
