"""``lab2-evaluate``: validate and test a trained model, from its checkpoint, on a data set.

lab2-evaluate ckpt_path=outputs/train/.../checkpoints/last.ckpt   # the digits' val and test splits
lab2-evaluate ckpt_path=CKPT data=mnist data.path=DIR             # MNIST's t10k pair (test only)
lab2-evaluate ckpt_path=CKPT data=cells_mat data.path=other_cells.mat   # a Part 1 checkpoint

With the training run's data settings and seed, the ``val/`` and ``test/`` metrics of its
``checkpoints/last.ckpt`` are exactly the run's final ones: that checkpoint is written after the
last epoch's validation, and the split is drawn again from the same seed.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import hydra
import lightning as L
from omegaconf import DictConfig

from lab2.cli import config_dir
from lab2.cli.common import (
    build,
    final_metrics,
    plain,
    seed_everything,
    write_metrics,
)
from lab2.cli.reporting import reporting_input_errors
from lab2.tasks.base import DATA_KEY
from lab2.tasks.checkpoint import load_task

log = logging.getLogger(__name__)

# The data settings that decide which examples a split puts in the validation and test sets.
_SPLIT_SETTINGS = ("seed", "val_fraction", "test_fraction")
# The set each evaluation stage runs on.
_STAGE_SETS = {"validate": "val", "test": "test"}


def evaluate(config: DictConfig) -> dict[str, float]:
    """Validates and tests the checkpoint ``config.ckpt_path`` on ``config.data`` and returns
    the metrics.

    The stages are the data module's ``evaluation_stages``: validation and test, or test alone
    (``data=mnist``, whose ``t10k`` pair is all it needs). A Part 1 checkpoint is tested on
    every patch of the data and validated on the split's validation patches.

    Writes into ``config.paths.output_dir``: ``metrics.json``, TensorBoard logs and the task's
    test outputs (for a Part 2 classifier ``per_class.csv``, ``per_class.md``,
    ``confusion_matrix.png`` and the failure cases).

    Raises:
        InputError: a missing or foreign checkpoint, bad data settings or files, or data the
            model cannot take; all before testing starts.
    """
    run_dir = Path(config.paths.output_dir)
    seed_everything(config)

    task, checkpoint = load_task(config.get("ckpt_path"))
    datamodule = build(config.data)
    stages = datamodule.evaluation_stages
    for stage in stages:
        datamodule.setup(stage)
        task.check_data(*datamodule.sets[_STAGE_SETS[stage]])
    warn_if_split_differs(checkpoint, datamodule)
    log.info("evaluating %s (%s)", config.ckpt_path, type(task).__name__)

    logger = build(config.logger) if config.get("logger") else False
    trainer = build(config.trainer, logger=logger, enable_checkpointing=False)
    if logger:
        logger.log_hyperparams(plain(config))
    metrics: dict[str, float] = {}
    for stage in stages:
        run = trainer.validate if stage == "validate" else trainer.test
        run(task, datamodule=datamodule)
        metrics |= final_metrics(trainer)  # each run of the trainer resets them
    metrics = dict(sorted(metrics.items()))

    if trainer.is_global_zero:
        write_metrics(run_dir, metrics)
        task.write_outputs(run_dir, "test")
    return metrics


def warn_if_split_differs(checkpoint: Mapping[str, Any], datamodule: L.LightningDataModule):
    """Warns when the data is the one the model was trained on but split differently: the
    validation and test sets then hold examples the model was trained on, and their scores are
    too good (and not the training run's)."""
    trained = checkpoint.get("datamodule_hyper_parameters") or {}
    now = dict(getattr(datamodule, "hparams", {}))
    if not trained or checkpoint.get(DATA_KEY) != _data_name(datamodule):
        return
    changed = {k: (trained.get(k), now.get(k)) for k in _SPLIT_SETTINGS if k in now}
    changed = {k: v for k, v in changed.items() if v[0] != v[1]}
    if changed:
        differences = ", ".join(f"{k}: trained {a}, now {b}" for k, (a, b) in changed.items())
        log.warning(
            "the model was trained on this data set split differently (%s): the validation "
            "and test sets overlap its training data, so their scores are optimistic; "
            "evaluate with the training run's settings",
            differences,
        )


def _data_name(datamodule: L.LightningDataModule) -> str:
    return f"{type(datamodule).__module__}.{type(datamodule).__qualname__}"


@hydra.main(config_path=config_dir(), config_name="evaluate", version_base="1.3")
def main(config: DictConfig) -> None:
    """The ``lab2-evaluate`` command."""
    with reporting_input_errors("lab2-evaluate", Path(config.paths.output_dir)):
        evaluate(config)


if __name__ == "__main__":
    main()
