"""Shared fixtures: composing the real Hydra configs, and small course-format files."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import DictConfig, open_dict

from lab2.cli import config_dir

# Settings that keep a test run small and quiet.
FAST = [
    "trainer.enable_progress_bar=false",
]


@pytest.fixture
def compose_config(tmp_path) -> Callable[..., DictConfig]:
    """Composes a config from ``conf/`` the way a command would, with the run folder in
    ``tmp_path``."""

    def make(*overrides: str, config_name: str = "train") -> DictConfig:
        with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
            config = compose(config_name, overrides=[*FAST, *overrides])
        with open_dict(config):
            config.paths.output_dir = str(tmp_path)
        return config

    return make
