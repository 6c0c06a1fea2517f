import math

import pytest
import torch
from torch import nn

from lab2.errors import InputError
from lab2.models.cnn import Flatten, build_layers, count_parameters, output_shapes

BASIC = [  # Ex 2.11
    {"type": "conv", "out_channels": 25, "kernel_size": 3},
    {"type": "relu"},
    {"type": "maxpool", "kernel_size": 2, "stride": 2},
    {"type": "linear", "out_features": 10},
]


def test_basic_network_layer_by_layer():
    net = build_layers(BASIC, (1, 28, 28))
    assert [name for name, _ in net.named_children()] == [
        "conv1",
        "relu1",
        "maxpool1",
        "flatten",
        "linear1",
    ]
    assert output_shapes(net, (1, 28, 28)) == [
        (25, 26, 26),
        (25, 26, 26),
        (25, 13, 13),
        (4225,),
        (10,),
    ]
    assert count_parameters(net) == 42_510  # 250 + 42,260, not 44,510


def test_glorot_uniform_weights_and_zero_biases():
    torch.manual_seed(0)
    net = build_layers(BASIC, (1, 28, 28))
    for layer, fan_in, fan_out in [(net.conv1, 9, 25 * 9), (net.linear1, 4225, 10)]:
        bound = math.sqrt(6 / (fan_in + fan_out))
        assert layer.weight.abs().max() <= bound
        assert layer.weight.abs().max() > 0.9 * bound
        assert torch.count_nonzero(layer.bias) == 0


def test_named_layers_and_padding():
    layers = [
        {"type": "conv", "out_channels": 10, "kernel_size": 5, "padding": "same"},
        {"type": "relu"},
        {"type": "conv", "out_channels": 10, "kernel_size": 5, "padding": "same", "name": "blue"},
    ]
    net = build_layers(layers, (1, 32, 32))
    assert isinstance(net.blue, nn.Conv2d)
    assert output_shapes(net, (1, 32, 32))[-1] == (10, 32, 32)
    assert count_parameters(net.blue) == 2_510


@pytest.mark.parametrize(
    ("layers", "message"),
    [
        ([{"type": "convolution"}], r"layer 0: type must be one of \[.*'conv'"),
        ([{"type": "conv", "kernel_size": 3}], r"layer 0 \(conv\): missing setting\(s\) \['out_"),
        ([{"type": "relu", "inplace": True}], r"layer 0 \(relu\): unknown setting\(s\) \['inpl"),
        ([{"type": "conv", "out_channels": 4, "kernel_size": 40}], r"cannot take an input of"),
        (
            [{"type": "relu", "name": "a"}, {"type": "relu", "name": "a"}],
            r"layer 1: the name 'a' is used twice",
        ),
        (
            [{"type": "linear", "out_features": 3}, {"type": "maxpool", "kernel_size": 2}],
            r"layer 1 \(maxpool\) needs an image input",
        ),
    ],
)
def test_bad_layer_lists_are_named(layers, message):
    with pytest.raises(InputError, match=message):
        build_layers(layers, (1, 28, 28))


@pytest.mark.parametrize("memory_format", [torch.contiguous_format, torch.channels_last])
def test_flatten_is_nn_flatten_with_its_gradient_in_the_input_order(memory_format):
    x = torch.randn(3, 4, 5, 6).contiguous(memory_format=memory_format)
    weight = torch.randn(4 * 5 * 6, 2)
    gradients = {}

    def flattened(flatten, name):
        source = x.clone().requires_grad_()
        inner = source * 1.0  # not a leaf: its gradient is what the layer before would get
        inner.register_hook(lambda grad: gradients.__setitem__(name, grad))
        out = flatten(inner)
        (out @ weight).sum().backward()
        return out

    torch.testing.assert_close(
        flattened(Flatten(), "ours"), flattened(nn.Flatten(), "torch"), rtol=0, atol=0
    )
    torch.testing.assert_close(gradients["ours"], gradients["torch"], rtol=0, atol=0)
    assert gradients["ours"].is_contiguous(memory_format=memory_format)
    assert repr(Flatten()) == repr(nn.Flatten())  # the model summaries read the same
