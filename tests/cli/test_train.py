"""``lab2-train`` end to end: in this process through ``train``, and as the installed command."""

import json
import os
import subprocess
import sys
from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
from tensorboard.plugins.hparams.plugin_data_pb2 import HParamsPluginData

from lab2.cli.common import build, build_callbacks, plain
from lab2.cli.train import train
from lab2.errors import InputError

PART1_KEYS = {
    f"{stage}/{name}"
    for stage in ("train", "val")
    for name in ("loss", "acc", "precision", "recall")
}


def events(run_dir: Path) -> EventAccumulator:
    # The folder, not one file: TensorBoard reads every event file in a run's folder as one run.
    accumulator = EventAccumulator(
        str(run_dir / "tensorboard"), size_guidance={"images": 0, "scalars": 0}
    )
    accumulator.Reload()
    return accumulator


@pytest.fixture(scope="module")
def part1_run(tmp_path_factory):
    """One short Part 1 run, shared by the tests that read its outputs."""
    from hydra import compose, initialize_config_dir
    from omegaconf import open_dict

    from lab2.cli import config_dir

    run_dir = tmp_path_factory.mktemp("run")
    with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
        config = compose(
            "train", overrides=["trainer.max_epochs=3", "trainer.enable_progress_bar=false"]
        )
    with open_dict(config):
        config.paths.output_dir = str(run_dir)
    metrics = train(config)
    return run_dir, metrics


def test_writes_metrics_json_with_the_logged_keys(part1_run):
    run_dir, metrics = part1_run
    written = json.loads((run_dir / "metrics.json").read_text())
    assert set(written) == PART1_KEYS
    assert written == pytest.approx(metrics)


def test_short_training_separates_the_classes(part1_run):
    _, metrics = part1_run
    assert metrics["val/acc"] >= 0.85  # chance is about 0.5


def test_tensorboard_holds_the_scalars_and_w_every_epoch(part1_run):
    run_dir, _ = part1_run
    accumulator = events(run_dir)
    tags = accumulator.Tags()
    assert set(tags["scalars"]) >= PART1_KEYS
    assert len(accumulator.Scalars("val/acc")) == 3
    assert [image.step for image in accumulator.Images("w")] == [1, 2, 3]
    assert "w/final" in tags["images"]


def test_tensorboard_hparams_tab_lists_settings_and_final_metrics(part1_run):
    run_dir, metrics = part1_run
    content = events(run_dir).PluginTagToContent("hparams")
    found = {tag: HParamsPluginData.FromString(data) for tag, data in content.items()}
    experiment = found["_hparams_/experiment"].experiment
    assert {info.name.tag for info in experiment.metric_infos} == set(metrics)
    # The tab shows each metric's last logged scalar: those are the run's final values.
    accumulator = events(run_dir)
    for tag, value in metrics.items():
        assert accumulator.Scalars(tag)[-1].value == pytest.approx(value, rel=1e-6), tag
    settings = found["_hparams_/session_start_info"].session_start_info.hparams
    assert settings["model/init_scale"].number_value == pytest.approx(0.01)
    assert settings["model/patch_size"].number_value == 35  # resolved, not ${data.patch_size}
    assert settings["optim/lr"].number_value == pytest.approx(0.1)


def test_run_folder_holds_config_checkpoint_and_filter(part1_run):
    run_dir, _ = part1_run
    assert (run_dir / "w.png").stat().st_size > 1000
    checkpoint = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    np.testing.assert_array_equal(np.load(run_dir / "w.npy"), checkpoint["state_dict"]["model.w"])
    assert checkpoint["hyper_parameters"]["init_scale"] == 0.01
    assert checkpoint["hyper_parameters"]["optim"]["lr"] == 0.1
    assert checkpoint["state_dict"]["model.w"].shape == (35, 35)


class RecordOrder(L.Callback):
    """Records a fingerprint of every training batch, per epoch."""

    def __init__(self):
        self.epochs = []

    def on_train_epoch_start(self, trainer, module):
        self.epochs.append([])

    def on_train_batch_start(self, trainer, module, batch, batch_idx):
        self.epochs[-1].extend(batch[0].flatten(1).sum(1).round(decimals=6).tolist())


@pytest.mark.parametrize("fast_sgd", [True, False])
@pytest.mark.parametrize("shuffle", [False, True])
def test_shuffle_false_visits_the_same_order_every_epoch(compose_config, shuffle, fast_sgd):
    config = compose_config(
        f"data.shuffle={shuffle}",
        "data.n_foreground=20",
        "data.n_background=20",
        f"model.fast_sgd={fast_sgd}",
    )
    recorder = RecordOrder()
    trainer = L.Trainer(
        max_epochs=3,
        callbacks=[recorder],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
    )
    trainer.fit(build(config.model, optim=plain(config.optim)), datamodule=build(config.data))

    first, *rest = recorder.epochs
    assert len(first) == 32
    assert all(sorted(epoch) == sorted(first) for epoch in rest)
    assert all(epoch == first for epoch in rest) == (not shuffle)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["optim.lr=0"], r"optim.lr must be a positive number, got 0"),
        (["optim.lr=-0.1"], r"optim.lr must be a positive number, got -0.1"),
        (["data.rotations=-2"], r"data.rotations must be a whole number >= 0, got -2"),
        (["data=cells_mat", "data.path=/no/such/file.mat"], r"data.path: no such file"),
        (["data=cells_mat"], r"data.path: give the course's .mat file"),
        (["data.val_fraction=0.001"], r"leaves the 'val' set empty"),
        (["data.val_fraction=half"], r"data.val_fraction must be a number in \[0, 1\), got 'half'"),
        (["optim.momentum=null"], r"optim.momentum must be a number in \[0, 1\), got None"),
        (["optim.weight_decay=-1"], r"optim.weight_decay must be a number >= 0, got -1"),
    ],
)
def test_bad_input_stops_before_training(compose_config, overrides, message, tmp_path):
    with pytest.raises(InputError, match=message):
        train(compose_config(*overrides))
    assert not (tmp_path / "checkpoints").exists()


def run_command(*args, cwd):
    env = {**os.environ, "HYDRA_FULL_ERROR": "0"}
    command = [Path(sys.executable).parent / "lab2-train", *args]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_command_runs_from_any_directory(tmp_path):
    run_dir = tmp_path / "run"
    result = run_command(
        "trainer.max_epochs=1",
        "trainer.enable_progress_bar=false",
        f"hydra.run.dir={run_dir}",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert (run_dir / "metrics.json").is_file()
    assert (run_dir / ".hydra" / "config.yaml").is_file()
    # Lightning's messages print once, in Hydra's format, and go into the run's log file.
    printed = result.stdout + result.stderr
    assert printed.count("GPU available:") == 1, printed
    assert "][lightning.pytorch.utilities.rank_zero][INFO] - GPU available:" in printed
    assert "GPU available:" in (run_dir / "train.log").read_text()


def test_command_reports_bad_input_in_one_line_and_leaves_no_run_folder(tmp_path):
    run_dir = tmp_path / "run"
    result = run_command("optim.lr=-1", f"hydra.run.dir={run_dir}", cwd=tmp_path)
    assert result.returncode == 2
    assert "lab2-train: error: optim.lr must be a positive number, got -1" in result.stderr
    assert "Traceback" not in result.stderr
    assert not run_dir.exists()


class CheckpointSeen(L.Callback):
    """Records, at the start of each epoch, the epoch stored in checkpoints/last.ckpt."""

    def __init__(self, path):
        self.path, self.seen = path, []

    def on_train_epoch_start(self, trainer, module):
        if self.path.is_file():
            self.seen.append(torch.load(self.path, weights_only=True)["epoch"])
        else:
            self.seen.append(None)


def test_last_checkpoint_is_rewritten_after_every_epoch(compose_config, tmp_path):
    config = compose_config("data.n_foreground=20", "data.n_background=20", "logger=none")
    seen = CheckpointSeen(tmp_path / "checkpoints" / "last.ckpt")
    trainer = L.Trainer(
        max_epochs=3,
        callbacks=[*build_callbacks(config), seen],
        logger=False,
        enable_progress_bar=False,
    )
    trainer.fit(build(config.model, optim=plain(config.optim)), datamodule=build(config.data))
    # The epoch a checkpoint stores is the one that had just ended (counted from 0): a killed
    # run loses at most the epoch it was in.
    assert seen.seen == [None, 0, 1]
    assert sorted(p.name for p in (tmp_path / "checkpoints").iterdir()) == ["last.ckpt"]


def test_the_entry_point_module_loads_without_lightning():
    # The launcher process of a joblib or submitit sweep imports this module to pickle the task
    # function but never trains; Lightning's import would cost it seconds.
    code = "import sys, lab2.cli.train; print(sorted(m for m in sys.modules if 'lightning' in m))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


def test_the_multirun_summary_callback_loads_without_torch():
    # Hydra imports its callbacks in the launcher process of every sweep.
    code = (
        "import sys, lab2.cli.summary; "
        "print([m for m in ('torch', 'matplotlib') if m in sys.modules])"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
