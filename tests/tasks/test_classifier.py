import copy

import lightning as L
import pytest
import torch

from lab2.cli.common import build_task
from lab2.data.digits import ShippedDigits
from lab2.errors import InputError
from lab2.models.cnn import count_parameters, output_shapes
from lab2.tasks.checkpoint import load_task
from lab2.tasks.classifier import ImageClassifier, class_metrics

BASIC = [
    {"type": "conv", "out_channels": 25, "kernel_size": 3},
    {"type": "relu"},
    {"type": "maxpool", "kernel_size": 2, "stride": 2},
    {"type": "linear", "out_features": 10},
]


def test_basic_cnn_is_ex_2_11_layer_by_layer(compose_config):
    task = build_task(compose_config("data=digits", "model=basic_cnn"))
    assert isinstance(task, ImageClassifier)
    assert [name for name, _ in task.model.named_children()] == [
        "zero_center",
        "conv1",
        "relu1",
        "maxpool1",
        "flatten",
        "linear1",
    ]
    assert output_shapes(task.model, (1, 28, 28)) == [
        (1, 28, 28),  # zero-centred input
        (25, 26, 26),  # 25 filters 3x3, stride 1, no padding
        (25, 26, 26),
        (25, 13, 13),  # max pool 2x2, stride 2
        (4225,),
        (10,),
    ]
    conv = task.model.conv1
    assert (conv.kernel_size, conv.stride, conv.padding) == ((3, 3), (1, 1), (0, 0))
    assert count_parameters(task) == 42_510  # (3*3*1 + 1) * 25 + (4225 * 10 + 10)


def test_part2_models_choose_their_optimiser_unless_the_command_line_does(compose_config):
    basic = compose_config("data=digits", "model=basic_cnn")
    assert dict(basic.optim) == {
        "name": "sgd",
        "lr": 0.01,
        "momentum": 0.9,
        "weight_decay": 1e-4,
        "scheduler": None,
        "epochs": 30,
    }
    assert basic.trainer.max_epochs == 30
    assert basic.data.batch_size == 128
    assert compose_config("model=basic_cnn", "optim=onecycle").optim.scheduler == "onecycle"
    better = compose_config("data=digits", "model=better_cnn")
    assert better.optim.scheduler == "onecycle"
    assert compose_config("model=better_cnn", "optim=sgdm").optim.lr == 0.01
    assert compose_config().optim.lr == 0.1  # Part 1 keeps plain SGD


def test_better_cnn_builds_and_counts_its_parameters(compose_config):
    task = build_task(compose_config("data=digits", "model=better_cnn"))
    assert task(torch.zeros(2, 1, 28, 28)).shape == (2, 10)
    assert 10_000 < count_parameters(task) < 200_000  # small enough for a CPU budget
    assert task.augment  # it trains on augmented digits


@pytest.mark.parametrize("name", ["basic_cnn", "better_cnn"])
def test_channels_last_order_computes_what_the_default_order_does(compose_config, name):
    task = build_task(compose_config("data=digits", f"model={name}")).eval()
    x = torch.rand(4, 1, 28, 28, generator=torch.Generator().manual_seed(0))
    maps = []
    task.model[1].register_forward_hook(lambda module, inputs, output: maps.append(output))
    default_order = copy.deepcopy(task.model).to(memory_format=torch.contiguous_format)
    with torch.no_grad():
        torch.testing.assert_close(task(x), default_order(x), rtol=1e-5, atol=1e-5)
    # The task's first convolution computed its maps in channels-last order, the copy did not.
    first, second = maps  # the hook came along with the copy
    assert first.is_contiguous(memory_format=torch.channels_last)
    assert not first.is_contiguous()
    assert second.is_contiguous()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"num_classes": 3}, r"the last layer must output 3 class scores .* got shape \(10,\)"),
        ({"input_shape": [28, 28]}, r"model.input_shape must be \[C, H, W\], got \[28, 28\]"),
        ({"augment": {"flip": True}}, r"model.augment: unknown setting\(s\) \['flip'\]"),
        ({"optim": {"name": "sgd", "lr": -1}}, r"optim.lr must be a positive number, got -1"),
    ],
)
def test_bad_model_settings_are_named(kwargs, message):
    with pytest.raises(InputError, match=message):
        ImageClassifier(BASIC, **kwargs)


def test_data_the_model_cannot_take_is_named():
    task = ImageClassifier(BASIC)
    task.check_data(torch.zeros(3, 1, 28, 28), torch.tensor([0, 9, 4]))
    with pytest.raises(
        InputError, match=r"takes images of shape \[1, 28, 28\] .* holds \[35, 35\]"
    ):
        task.check_data(torch.zeros(3, 35, 35), torch.tensor([0, 1, 0]))
    with pytest.raises(InputError, match=r"knows 10 classes .* but the data has label 12"):
        task.check_data(torch.zeros(3, 1, 28, 28), torch.tensor([0, 12, 4]))


def bare_trainer(**limits):
    """One epoch with no logger, checkpoint, progress bar or summary."""
    return L.Trainer(
        max_epochs=1,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        **limits,
    )


def test_zero_centre_mean_is_the_training_mean_and_travels_in_the_checkpoint(tmp_path):
    torch.manual_seed(0)
    data = ShippedDigits(seed=0)
    task = ImageClassifier(BASIC)
    trainer = bare_trainer(limit_train_batches=2, limit_val_batches=1)
    trainer.fit(task, datamodule=data)
    path = tmp_path / "model.ckpt"
    trainer.save_checkpoint(path)

    training_mean = data.sets["train"][0].mean(0)  # (1, 28, 28)
    all_data_mean = torch.cat([x for x, _ in data.sets.values()]).mean(0)
    checkpoint = torch.load(path, weights_only=True)  # plain values only
    saved = checkpoint["state_dict"]["model.zero_center.mean"]
    torch.testing.assert_close(saved, training_mean)
    assert (saved - all_data_mean).abs().max() > 1e-3
    assert checkpoint["lab2_task"] == "lab2.tasks.classifier.ImageClassifier"
    assert checkpoint["lab2_data"] == "lab2.data.digits.ShippedDigits"
    assert checkpoint["hyper_parameters"]["layers"] == BASIC
    assert checkpoint["datamodule_hyper_parameters"]["test_fraction"] == 0.2

    restored, _ = load_task(path)
    torch.testing.assert_close(restored.model.zero_center.mean, training_mean)
    x = data.sets["test"][0][:50]
    torch.testing.assert_close(restored.predict_proba(x), task.predict_proba(x))


@pytest.mark.filterwarnings("ignore:You are trying to `self.log\\(\\)`")  # no Trainer here
def test_training_steps_augment_and_evaluation_steps_do_not(compose_config):
    task = build_task(compose_config("data=digits", "model=better_cnn"))
    seen = []
    task.model.register_forward_pre_hook(lambda module, args: seen.append(args[0].clone()))
    x, t = torch.rand(4, 1, 28, 28), torch.tensor([1, 2, 3, 4])
    task.training_step((x, t), 0)
    task.validation_step((x, t), 0)
    assert not torch.equal(seen[0], x)  # rotated, scaled, shifted
    assert torch.equal(seen[1], x)


def test_training_metrics_count_every_training_step_of_the_epoch():
    # With a learning rate of 1e-30 the network does not change within the epoch, so the training
    # metrics must equal those of its predictions on the whole training set, in batches of 128
    # (the epoch's last batch is smaller): each step's predictions are kept and counted once.
    torch.manual_seed(0)
    data = ShippedDigits(seed=0)
    task = ImageClassifier(BASIC, optim={"name": "sgd", "lr": 1e-30, "epochs": 1})
    trainer = bare_trainer(limit_val_batches=0)
    trainer.fit(task, datamodule=data)
    logged = trainer.callback_metrics
    assert not task.train_predictions  # counted and cleared at the epoch's end

    x, t = data.sets["train"]
    expected = class_metrics("check", 10)
    with torch.no_grad():
        expected.update(task(x), t)
    values = expected.compute()
    assert logged["train/acc"] == pytest.approx(float(values["check/acc"]), abs=1e-6)
    assert 0.02 < float(logged["train/acc"]) < 0.5  # an untrained network: not all right
    for k in range(10):
        for name in ("precision", "recall"):
            want = float(values[f"check/{name}_per_class"][k])
            assert logged[f"train/{name}/{k}"] == pytest.approx(want, abs=1e-6), (name, k)
