"""Receptive fields: the recurrence, the enumeration and the measurement agree, on the lab's
networks and on randomly drawn layer stacks."""

import random
import warnings

import pytest
import torch
from torch import nn

from lab2.analysis.cost import counted_macs, network_macs
from lab2.analysis.fields import (
    Field,
    measure_fields,
    positive_copy,
    probe_unit,
    reach,
    receptive_fields,
    unit_extent,
)
from lab2.analysis.summary import analyze_network
from lab2.errors import InputError
from lab2.models.cnn import output_shapes

EVEN_SAME = "ignore:Using padding='same' with even kernel lengths"  # a speed note, not a fault

# ---------------------------------------------------------------------------------------------
# A seeded generator of layer stacks. Each dimension gets its own kernel, stride, padding and
# dilation, so that a mix-up of height and width shows; pools may be dilated or use ceil_mode.


def _pair(rng, low, high):
    return rng.randint(low, high), rng.randint(low, high)


def _conv(rng, channels):
    kernel, dilation = _pair(rng, 1, 4), _pair(rng, 1, 3)
    if rng.random() < 0.25:
        return nn.Conv2d(channels, rng.randint(1, 3), kernel, padding="same", dilation=dilation)
    stride = _pair(rng, 1, 3)
    padding = tuple(rng.randint(0, k) for k in kernel)
    return nn.Conv2d(channels, rng.randint(1, 3), kernel, stride, padding, dilation)


def _pool(rng, channels):
    kernel, stride = _pair(rng, 1, 3), _pair(rng, 1, 3)
    padding = tuple(rng.randint(0, k // 2) for k in kernel)  # torch allows at most half
    if rng.random() < 0.5:
        return nn.AvgPool2d(kernel, stride, padding, ceil_mode=rng.random() < 0.3)
    dilation = _pair(rng, 1, 2)
    ceil_mode = dilation == (1, 1) and rng.random() < 0.3
    return nn.MaxPool2d(kernel, stride, padding, dilation, ceil_mode=ceil_mode)


def _tail(rng, channels, shape):
    choice = rng.randrange(4)
    if choice == 0:
        return []
    if choice == 1:
        return [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(channels, 2)]
    if choice == 2:
        features = channels * shape[1] * shape[2]
        return [nn.Flatten(), nn.Linear(features, 3), nn.ReLU(), nn.Linear(3, 2)]
    return [nn.Flatten(), nn.ReLU()]  # a flat layer that is not fully connected


def random_stack(seed):
    """A random network and input shape, or ``None`` when the draw cannot run (an output of
    size zero, say)."""
    rng = random.Random(seed)
    input_shape = (rng.randint(1, 2), rng.randint(5, 40), rng.randint(5, 40))
    modules, channels = [], input_shape[0]
    for _ in range(rng.randint(1, 6)):
        kind = rng.choice(["conv", "conv", "pool", "relu", "batchnorm"])
        if kind == "conv":
            module = _conv(rng, channels)
            channels = module.out_channels
        elif kind == "pool":
            module = _pool(rng, channels)
        else:
            module = nn.ReLU() if kind == "relu" else nn.BatchNorm2d(channels)
        modules.append(module)
    try:
        shape = output_shapes(nn.Sequential(*modules), input_shape)[-1]
        network = nn.Sequential(*modules, *_tail(rng, channels, shape))
        output_shapes(network, input_shape)
    except RuntimeError:
        return None
    return network, input_shape


def drawn(count, first_seed=0):
    """The first ``count`` stacks that can run, from ``first_seed`` on."""
    stacks, seed = [], first_seed
    while len(stacks) < count:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", EVEN_SAME.removeprefix("ignore:"))
            stack = random_stack(seed)
        if stack is not None:
            stacks.append((seed, *stack))
        seed += 1
    return stacks


def check_stack(network, input_shape, rng):
    """Every figure agrees for the probed units, and for one random unit per layer the
    measured extent is the enumerated one (and the nominal one where that fits the image)."""
    result = analyze_network(network, input_shape)
    for layer in result.layers:
        assert layer.fields_agree, layer
        assert layer.macs_agree, layer

    extents = reach(network, input_shape)
    fields = receptive_fields(network, input_shape)
    units = [(rng.randrange(len(h)), rng.randrange(len(w))) for h, w in extents]
    measured = measure_fields(network, input_shape, units)
    image = input_shape[1:]
    for (row, column), layer_reach, got, field in zip(
        units, extents, measured, fields, strict=True
    ):
        assert got == unit_extent(layer_reach, (row, column))
        spans = tuple(f.span(u) for f, u in zip(field, (row, column), strict=True))
        if all(a >= 0 and b < n for (a, b), n in zip(spans, image, strict=True)):
            assert got == spans  # inside the image: the textbook field, exactly
    return result


def test_the_generator_draws_varied_stacks():
    stacks = drawn(60)
    kinds = {type(m).__name__ for _, network, _ in stacks for m in network}
    assert kinds >= {"Conv2d", "MaxPool2d", "AvgPool2d", "Linear", "AdaptiveAvgPool2d"}
    fits = []  # whether some unit of the last layer has its whole field inside the image
    for _, network, input_shape in stacks:
        height, width = receptive_fields(network, input_shape)[-1]
        fits.append(height.size <= input_shape[1] and width.size <= input_shape[2])
    assert 0 < sum(fits) < len(fits)  # fields inside the image, and fields larger than it
    assert len({seed for seed, _, _ in stacks}) == 60


@pytest.mark.filterwarnings(EVEN_SAME)
@pytest.mark.parametrize(
    ("seed", "network", "input_shape"), [pytest.param(*s, id=f"seed{s[0]}") for s in drawn(80)]
)
def test_random_stacks_agree(seed, network, input_shape):
    check_stack(network, input_shape, random.Random(seed))


@pytest.mark.slow
@pytest.mark.filterwarnings(EVEN_SAME)
def test_many_more_random_stacks_agree():
    for seed, network, input_shape in drawn(1500, first_seed=10_000):
        check_stack(network, input_shape, random.Random(seed))


# ---------------------------------------------------------------------------------------------
# The recurrence on cases worked by hand.


def test_recurrence_by_hand():
    net = nn.Sequential(
        nn.Conv2d(1, 1, 3, padding=1),  # size 3, jump 1, start -1
        nn.MaxPool2d(2),  # 3 + 1 * 1 = 4, jump 2, start -1
        nn.Conv2d(1, 1, 3, dilation=2),  # k_eff 5: 4 + 4 * 2 = 12, jump 2, start -1
        nn.Conv2d(1, 1, 2, stride=3, padding=1),  # 12 + 1 * 2 = 14, jump 6, start -1 - 2 = -3
    )
    fields = [h for h, _ in receptive_fields(net, (1, 40, 40))]
    assert [(f.size, f.jump, f.start) for f in fields] == [
        (3, 1, -1),
        (4, 2, -1),
        (12, 2, -1),
        (14, 6, -3),
    ]
    assert [f.positions for f in fields] == [40, 20, 16, 6]


def test_height_and_width_are_separate():
    net = nn.Sequential(nn.Conv2d(1, 1, (3, 5), stride=(1, 2), dilation=(2, 1)))
    ((height, width),) = receptive_fields(net, (1, 20, 30))
    assert (height.size, height.jump) == (5, 1)
    assert (width.size, width.jump) == (5, 2)
    (measured,) = measure_fields(net, (1, 20, 30), [(3, 4)])
    assert measured == ((3, 7), (8, 12))


@pytest.mark.filterwarnings(EVEN_SAME)
def test_same_padding_puts_the_odd_pixel_below():
    # torch pads an even kernel's 'same' by (k - 1) // 2 above and the rest below.
    net = nn.Sequential(nn.Conv2d(1, 1, 4, padding="same"))
    ((height, _),) = receptive_fields(net, (1, 10, 10))
    assert height.start == -1
    assert measure_fields(net, (1, 10, 10), [(5, 5)]) == [((4, 7), (4, 7))]


def test_fully_connected_field_is_the_union_of_its_inputs():
    net = nn.Sequential(nn.Conv2d(1, 1, 3, padding=1), nn.Flatten(), nn.Linear(64, 2))
    height = receptive_fields(net, (1, 8, 8))[-1][0]
    assert (height.size, height.start, height.positions) == (10, -1, 1)  # 8 pixels + padding
    assert reach(net, (1, 8, 8))[-1][0] == [(0, 7)]
    assert measure_fields(net, (1, 8, 8), [(0, 0), (0, 0), (0, 0)])[-1] == ((0, 7), (0, 7))


def test_flat_units_are_found_on_the_grid_they_came_from():
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten())
    measured = measure_fields(net, (1, 6, 9), [(1, 5), (1, 5)])
    assert measured[0] == measured[1] == ((1, 3), (5, 7))


def test_a_unit_that_sees_only_padding_has_no_field():
    net = nn.Sequential(nn.Conv2d(1, 1, 1, padding=1))
    assert reach(net, (1, 3, 3))[0][0] == [None, (0, 0), (1, 1), (2, 2), None]
    assert measure_fields(net, (1, 3, 3), [(0, 0)]) == [(None, None)]


def test_probe_prefers_a_whole_field_then_the_centre():
    field = Field(size=5, jump=1, start=-2, positions=8)
    extents = [field.span(i) for i in range(8)]
    clipped = [(max(a, 0), min(b, 7)) for a, b in extents]
    assert probe_unit(field, clipped) == 3  # 2..5 fit; 3 and 4 are nearest the centre 3.5


def test_max_pool_is_measured_as_its_whole_window():
    # The gradient of a max goes to one element only; the field is still the whole window.
    pool = nn.Sequential(nn.MaxPool2d(3))
    x = torch.ones(1, 1, 9, 9, requires_grad=True)
    pool(x)[0, 0, 1, 1].backward()
    assert torch.count_nonzero(x.grad) == 1
    assert measure_fields(pool, (1, 9, 9), [(1, 1)]) == [((3, 5), (3, 5))]
    assert not any(isinstance(m, nn.MaxPool2d) for m in positive_copy(pool, (1, 9, 9)))


def test_measuring_leaves_the_network_as_it_was():
    torch.manual_seed(0)
    net = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.ReLU(inplace=True))
    before = {k: v.clone() for k, v in net.state_dict().items()}
    measure_fields(net, (1, 8, 8), [(2, 2)] * 3)
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    assert net.training
    assert net[2].inplace


@pytest.mark.parametrize(
    ("module", "message"),
    [
        (nn.Conv1d(1, 1, 3), r"layer 0: the analysis knows \[.*'Conv2d'.*\], not Conv1d"),
        (nn.Softmax(dim=1), r"not Softmax"),
        (nn.AdaptiveAvgPool2d(3), r"from 8 to 3 positions has uneven windows"),
        (nn.Linear(8, 2), r"needs a flat input \(put a Flatten before it\), got shape \(1, 8, 8\)"),
        (nn.Flatten(start_dim=2), r"layer 0: only Flatten\(\) of all but the batch dimension"),
    ],
)
def test_layers_it_cannot_describe_are_named(module, message):
    with pytest.raises(InputError, match=message):
        receptive_fields(nn.Sequential(module), (1, 8, 8))


def test_analysis_takes_the_layer_list_or_the_network():
    layers = [{"type": "conv", "out_channels": 2, "kernel_size": 3}, {"type": "relu"}]
    from lab2.models.cnn import build_layers

    by_list = analyze_network(layers, (1, 10, 10))
    by_network = analyze_network(build_layers(layers, (1, 10, 10)), (1, 10, 10))
    assert [layer.field for layer in by_list.layers] == [layer.field for layer in by_network.layers]
    assert network_macs(build_layers(layers, (1, 10, 10)), (1, 10, 10)) == [1152, 0]
    assert counted_macs(build_layers(layers, (1, 10, 10)), (1, 10, 10)) == [1152, 0]


def test_an_input_shape_the_network_cannot_take_is_named():
    net = nn.Sequential(nn.Conv2d(1, 2, 3))
    with pytest.raises(InputError, match=r"input_shape \(3, 8, 8\) does not fit the network"):
        analyze_network(net, (3, 8, 8))
    with pytest.raises(InputError, match=r"model must have at least one layer, got none"):
        analyze_network([], (1, 8, 8))
