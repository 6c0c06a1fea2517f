"""Every option of every config group composes with the rest and builds its object."""

from pathlib import Path

import lightning as L
import numpy as np
import pytest
import torch

from lab2.cli import config_dir
from lab2.cli.common import build, build_callbacks, build_task
from lab2.data.cells_mat import save_cell_mat

GROUPS = ["data", "model", "optim", "trainer", "logger", "callbacks", "paths"]


def options(group):
    return sorted(p.stem for p in (Path(config_dir()) / group).glob("*.yaml"))


def test_every_group_has_options():
    for group in GROUPS:
        assert options(group), group


@pytest.fixture
def course_file(tmp_path):
    path = tmp_path / "cell_data.mat"
    rng = np.random.default_rng(0)
    save_cell_mat(path, rng.uniform(size=(10, 35, 35)), np.array([1, 0] * 5))
    return path


@pytest.mark.parametrize(
    ("group", "option"), [(g, o) for g in GROUPS for o in options(g)], ids=lambda v: str(v)
)
def test_option_composes_and_instantiates(compose_config, course_file, group, option):
    overrides = [f"{group}={option}"]
    if (group, option) == ("data", "cells_mat"):
        overrides.append(f"data.path={course_file}")
    if (group, option) == ("data", "mnist"):
        overrides.append(f"data.path={course_file.parent}")  # files are read at setup only
    if group == "trainer" and option == "gpu" and not torch.cuda.is_available():
        pytest.skip("no GPU here to instantiate it on; test_gpu_trainer_composes composes it")
    config = compose_config(*overrides)

    if group == "data":
        assert isinstance(build(config.data), L.LightningDataModule)
    elif group == "model" and config.model._target_ == "lab2.models.cnn.build_layers":
        assert isinstance(build(config.model), torch.nn.Sequential)  # for lab2-analyze only
    elif group == "model":
        assert isinstance(build_task(config), L.LightningModule)
    elif group == "optim":
        task = build_task(config)
        assert task.optim_settings["name"] == config.optim.name
    elif group == "trainer":
        assert isinstance(build(config.trainer, logger=False), L.Trainer)
    elif group == "logger":
        logger = build(config.logger) if config.logger else None
        assert logger is None or logger.save_dir == str(config.paths.output_dir)
    elif group == "callbacks":
        assert all(isinstance(c, L.Callback) for c in build_callbacks(config))
    elif group == "paths":
        assert Path(config.paths.output_root).is_absolute()


def test_gpu_trainer_composes(compose_config):
    config = compose_config("trainer=gpu")
    assert config.trainer.accelerator == "gpu"


def test_max_epochs_follows_optim_unless_set(compose_config):
    assert compose_config("optim.epochs=7").trainer.max_epochs == 7
    assert compose_config("trainer.max_epochs=3").trainer.max_epochs == 3


def test_outputs_go_to_the_checkout_from_any_directory(compose_config, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    config = compose_config()
    root = Path(config_dir()).parent
    if (root / "pyproject.toml").is_file():  # an editable install: the checkout's outputs/
        assert Path(config.paths.output_root) == root / "outputs"
    else:  # an installed wheel: the working directory's outputs/
        assert Path(config.paths.output_root) == tmp_path / "outputs"
