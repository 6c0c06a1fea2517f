"""``lab2-train``: train a model on a data set, as the composed config says.

lab2-train                                   # Part 1 on the synthetic cells
lab2-train data=cells_mat data.path=cell_data.mat model.init_scale=0.001 optim.lr=0.01
lab2-train -m model.init_scale=10,1,0.1,0.01 # a sweep
"""

from __future__ import annotations

import logging
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

from lab2.cli import config_dir
from lab2.cli.reporting import reporting_input_errors

log = logging.getLogger(__name__)


def train(config: DictConfig) -> dict[str, float]:
    """Trains as ``config`` says and returns the final metrics.

    When the data holds out a test set (``data=digits``, ``data=mnist``), the trained model is
    then tested on it, and the test metrics join the final ones.

    Writes into ``config.paths.output_dir``: TensorBoard logs, checkpoints, ``metrics.json`` and
    the task's pictures and tables. Bad settings or data raise :class:`~lab2.errors.InputError`
    before any training step.
    """
    # Imported here, not at the top: the launcher process of a parallel sweep (joblib, submitit)
    # loads this module but never trains, and Lightning takes seconds to import.
    from lab2.cli.common import (
        build,
        build_callbacks,
        build_task,
        final_metrics,
        log_final_hparams,
        plain,
        seed_everything,
        write_metrics,
    )

    run_dir = Path(config.paths.output_dir)
    seed_everything(config)

    # Everything that can reject the settings or the data runs before the Trainer starts.
    datamodule = build(config.data)
    task = build_task(config)
    datamodule.setup("fit")
    task.check_data(*datamodule.sets["train"])

    logger = build(config.logger) if config.get("logger") else False
    trainer = build(config.trainer, callbacks=build_callbacks(config), logger=logger)
    if logger:
        logger.log_hyperparams(plain(config))

    trainer.fit(task, datamodule=datamodule, ckpt_path=config.get("ckpt_path"))
    metrics = final_metrics(trainer)
    if trainer.is_global_zero:
        task.write_outputs(run_dir, "fit")

    if getattr(datamodule, "has_test_set", False):
        # The weights as training left them (the last epoch's, which last.ckpt also holds).
        trainer.test(task, datamodule=datamodule)
        metrics = {**metrics, **final_metrics(trainer)}  # each run of the trainer resets them
        if trainer.is_global_zero:
            task.write_outputs(run_dir, "test")

    if trainer.is_global_zero:
        write_metrics(run_dir, dict(sorted(metrics.items())))
        log_final_hparams(logger, config, metrics)
    return metrics


def _warn_if_a_sweep_runs_once() -> None:
    """A preset that defines a sweep (``hydra.sweeper.params``) runs as one job without -m."""
    hydra_config = HydraConfig.get()
    params = hydra_config.sweeper.get("params") or {}
    if hydra_config.mode == RunMode.RUN and params:
        swept = ", ".join(f"{k}={v}" for k, v in params.items())
        log.warning(
            "this config defines a sweep (%s); run with -m to sweep it. Running one "
            "job with the config's own values instead.",
            swept,
        )


@hydra.main(config_path=config_dir(), config_name="train", version_base="1.3")
def main(config: DictConfig) -> float | None:
    """The ``lab2-train`` command. Returns ``optimized_metric`` for Hydra's sweepers."""
    _warn_if_a_sweep_runs_once()
    with reporting_input_errors("lab2-train", Path(config.paths.output_dir)):
        metrics = train(config)
    return metrics.get(config.get("optimized_metric"))


if __name__ == "__main__":
    main()
