"""What the entry points share: building objects from configs, reporting bad input, writing the
run's final metrics."""

from __future__ import annotations

import importlib
import logging
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import lightning as L
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.errors import InstantiationException
from hydra.utils import instantiate
from lightning.pytorch.callbacks import ProgressBar
from lightning.pytorch.loggers import TensorBoardLogger
from omegaconf import DictConfig, OmegaConf
from torch.utils.tensorboard.summary import hparams

from lab2.errors import InputError
from lab2.io import write_json
from lab2.tasks.base import LabTask

log = logging.getLogger(__name__)

# Lightning gives its loggers console handlers of their own (always on "lightning", and on
# "lightning.pytorch" and "lightning.fabric" when imported before logging is set up), while its
# records also reach the root logger that Hydra sets up: a message printed twice, or printed
# but missing from the run's log file. Through the root alone, each prints once, in Hydra's
# format, and goes into the run's log file.
for _name in ("lightning", "lightning.pytorch", "lightning.fabric"):
    logging.getLogger(_name).handlers.clear()
    logging.getLogger(_name).propagate = True


def build(config: DictConfig, **kwargs: Any) -> Any:
    """``hydra.utils.instantiate`` with plain Python arguments (so that no OmegaConf object ends
    up in a checkpoint's hyperparameters); an :class:`InputError` raised by the object's
    constructor comes out as itself, not wrapped in Hydra's ``InstantiationException``."""
    try:
        return instantiate(config, _convert_="all", **kwargs)
    except InstantiationException as error:
        cause = error.__cause__
        if isinstance(cause, InputError):
            raise cause from None
        raise


def build_task(config: DictConfig) -> LabTask:
    """The ``model`` group's LightningModule, given the ``optim`` settings.

    Raises:
        InputError: the chosen model is not a trainable task (for example a layer chain that
            only ``lab2-analyze`` uses).
    """
    target = config.model.get("_target_", "")
    if not _is_task(target):
        raise InputError(
            f"model: {target!r} is not a trainable task (it describes layers for "
            "lab2-analyze); choose a model such as linear or basic_cnn"
        )
    return build(config.model, optim=plain(config.optim))


def _is_task(target: str) -> bool:
    module_name, _, name = target.rpartition(".")
    try:
        found = getattr(importlib.import_module(module_name), name)
    except (ImportError, AttributeError, ValueError):
        return True  # let instantiate report it with Hydra's own message
    return isinstance(found, type) and issubclass(found, LabTask)


def build_callbacks(config: DictConfig) -> list[L.Callback]:
    """The ``callbacks`` group's callbacks; the progress bar is left out when
    ``trainer.enable_progress_bar=false`` (Lightning refuses both at once)."""
    callbacks = [build(c) for c in (config.get("callbacks") or {}).values() if c is not None]
    if not config.trainer.get("enable_progress_bar", True):
        callbacks = [c for c in callbacks if not isinstance(c, ProgressBar)]
    return callbacks


def plain(config: DictConfig) -> dict[str, Any]:
    """A config as plain Python values, interpolations resolved."""
    return OmegaConf.to_container(config, resolve=True)


def seed_everything(config: DictConfig) -> int:
    """Seeds Python, NumPy and torch with ``config.seed``; ``seed=null`` draws one and writes it
    back into the config, so the data's seeds and the saved config say which it was."""
    if config.seed is None:
        config.seed = int(torch.randint(0, 2**31 - 1, ()).item())
        log.info("seed=null: drew seed %d", config.seed)
    return L.seed_everything(config.seed, workers=True, verbose=False)


def final_metrics(trainer: L.Trainer) -> dict[str, float]:
    """Every metric the last epoch logged, as plain floats, keys exactly as logged."""
    values = {}
    for key, value in trainer.callback_metrics.items():
        if isinstance(value, torch.Tensor) and value.numel() == 1:
            values[key] = float(value)
    return dict(sorted(values.items()))


_COMPARED_GROUPS = ("experiment", "data", "model", "optim", "trainer")


def hyperparameters(config: DictConfig) -> dict[str, bool | int | float | str]:
    """The settings a run is compared by, flattened to ``group/key`` scalars: the chosen
    option of each config group, the seed, and every data, model and optim setting (lists,
    such as a network's layers, as text)."""
    values: dict[str, Any] = {"seed": config.seed}
    if HydraConfig.initialized():
        for group, choice in HydraConfig.get().runtime.choices.items():
            if group in _COMPARED_GROUPS and choice is not None:
                values[group] = choice
    for group in ("data", "model", "optim"):
        for key, value in _flatten(plain(config[group])).items():
            if not key.startswith("_"):  # _target_ and the like say nothing to compare by
                values[f"{group}/{key}"] = value
    values["trainer/max_epochs"] = config.trainer.max_epochs
    return {k: v if isinstance(v, (bool, int, float, str)) else str(v) for k, v in values.items()}


def _flatten(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat = {}
    for key, value in values.items():
        if isinstance(value, Mapping):
            flat |= _flatten(value, f"{prefix}{key}/")
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def log_final_hparams(logger: Any, config: DictConfig, metrics: Mapping[str, float]) -> None:
    """Fills TensorBoard's HParams tab: the run's :func:`hyperparameters` and the names of its
    final metrics, which TensorBoard shows with the last value each scalar was logged with.

    Written directly, not through ``TensorBoardLogger.log_hyperparams(params, metrics)``, which
    would also log the final values again at step 0 of every curve.
    """
    if not isinstance(logger, TensorBoardLogger):
        return
    experiment, start, end = hparams(hyperparameters(config), dict(metrics))
    writer = logger.experiment._get_file_writer()
    for summary in (experiment, start, end):
        writer.add_summary(summary)
    writer.flush()


def write_metrics(run_dir: Path, metrics: Mapping[str, float]) -> None:
    """Writes ``metrics.json`` into the run folder and says where it is. The log line leaves out
    the per-class values (``test/precision/3``, ...), which only the file holds."""
    write_json(run_dir / "metrics.json", metrics)
    summary = {k: v for k, v in metrics.items() if k.count("/") < 2 and math.isfinite(v)}
    shown = ", ".join(
        f"{k}={v:.4f}" if abs(v) < 100 else f"{k}={v:.0f}" for k, v in summary.items()
    )
    log.info("final metrics: %s", shown)
    log.info("run folder: %s", run_dir)
