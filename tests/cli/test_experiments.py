"""The exercise presets in experiments/: each composes, and a sweep preset sweeps."""

import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from lab2.cli import config_dir

PRESETS = sorted(p.stem for p in (Path(config_dir()) / "experiment").glob("*.yaml"))


def test_the_lab_exercises_have_presets():
    exercises = {"ex2_6", "ex2_7", "ex2_8", "ex2_9", "ex2_12", "ex2_15", "ex2_18", "ex2_19"}
    assert exercises <= set(PRESETS)


@pytest.mark.parametrize("name", PRESETS)
def test_preset_composes(compose_config, name):
    config = compose_config(f"experiment={name}")
    assert config.trainer.max_epochs == config.optim.epochs


def test_presets_set_what_the_exercises_ask(compose_config):
    ex2_6 = compose_config("experiment=ex2_6")
    assert (ex2_6.optim.lr, ex2_6.optim.epochs, ex2_6.data.shuffle) == (0.1, 5, True)
    assert compose_config("experiment=ex2_7").data.shuffle is False
    ex2_8 = compose_config("experiment=ex2_8")
    assert (ex2_8.model.init_scale, ex2_8.optim.lr, ex2_8.optim.epochs) == (0.001, 0.01, 500)
    assert compose_config("experiment=ex2_9").data.rotations == 3
    ex2_12 = compose_config("experiment=ex2_12")
    assert ex2_12.model.layers[0] == {"type": "conv", "out_channels": 25, "kernel_size": 3}
    sgdm = (ex2_12.optim.lr, ex2_12.optim.momentum, ex2_12.optim.weight_decay)
    assert (*sgdm, ex2_12.optim.epochs, ex2_12.data.batch_size) == (0.01, 0.9, 1e-4, 30, 128)
    assert compose_config("experiment=ex2_15").optim.epochs == 5
    assert compose_config("experiment=ex2_19").data.failure_cases == 3


def test_command_line_overrides_a_preset(compose_config):
    assert compose_config("experiment=ex2_8", "optim.epochs=7").trainer.max_epochs == 7


def test_ex2_6_sweeps_four_scales_into_one_summary(tmp_path):
    sweep_dir = tmp_path / "sweep"
    command = [
        Path(sys.executable).parent / "lab2-train",
        "-m",
        "experiment=ex2_6",
        "trainer.max_epochs=1",
        "trainer.enable_progress_bar=false",
        "data.n_foreground=40",
        "data.n_background=40",
        f"hydra.sweep.dir={sweep_dir}",
    ]
    env = {**os.environ, "HYDRA_FULL_ERROR": "1"}
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, env=env)
    assert result.returncode == 0, result.stderr[-3000:]

    for job in range(4):
        assert (sweep_dir / str(job) / "metrics.json").is_file()
    summary = (sweep_dir / "summary.md").read_text()
    assert "| job | model.init_scale |" in summary
    for scale in ("10", "1", "0.1", "0.01"):
        assert f"| {scale} |" in summary
    assert "val/acc" in summary
    assert (sweep_dir / "summary.png").is_file()
    assert (sweep_dir / "summary_w.png").is_file()
    overrides = yaml.safe_load((sweep_dir / "0" / ".hydra" / "overrides.yaml").read_text())
    assert "model.init_scale=10" in overrides


@pytest.mark.slow
@pytest.mark.parametrize("name", PRESETS)
def test_preset_runs_to_completion(name, tmp_path):
    """Every preset runs end to end here, cut to one short epoch (the full lengths are timed in
    the README)."""
    sweeps = bool(
        yaml.safe_load((Path(config_dir()) / "experiment" / f"{name}.yaml").read_text())
        .get("hydra", {})
        .get("sweeper")
    )
    short = [
        "trainer.max_epochs=1",
        "trainer.limit_train_batches=2",
        "trainer.limit_val_batches=1",
        "trainer.limit_test_batches=1",
        "trainer.enable_progress_bar=false",
    ]
    folder = "hydra.sweep.dir" if sweeps else "hydra.run.dir"
    command = [
        Path(sys.executable).parent / "lab2-train",
        *(["-m"] if sweeps else []),
        f"experiment={name}",
        *short,
        f"{folder}={tmp_path}",
    ]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    written = list(tmp_path.glob("*/metrics.json")) if sweeps else [tmp_path / "metrics.json"]
    assert written
    assert all(path.is_file() for path in written)
