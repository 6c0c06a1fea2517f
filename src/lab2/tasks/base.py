"""What every task of the lab shares: optimiser settings, TensorBoard access, run-folder
outputs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import lightning as L
import torch
from lightning.pytorch.loggers import TensorBoardLogger
from torch.utils.tensorboard import SummaryWriter
from torchmetrics import MetricCollection

from lab2.errors import InputError
from lab2.tasks.optim import build_optimizer, build_scheduler, check_optim

# Checkpoint entries that name the task class, so that lab2-evaluate and lab2-predict know what
# to rebuild (see lab2.tasks.checkpoint), and the data module's class it was trained on.
TASK_KEY, DATA_KEY = "lab2_task", "lab2_data"
PER_CLASS = "_per_class"  # a metric of one value per class (see LabTask.log_computed)


class LabTask(L.LightningModule):
    """A LightningModule trained with the ``optim`` settings.

    Args:
        optim: the ``optim`` config group as a plain dict (name, lr, ...; see
            :mod:`lab2.tasks.optim`). It is validated here, so a bad setting stops the run
            before training.
    """

    def __init__(self, optim: Mapping[str, Any]) -> None:
        super().__init__()
        self.optim_settings = check_optim(optim)

    def configure_optimizers(self) -> Any:
        optimizer = build_optimizer(self.parameters(), self.optim_settings)
        schedule = build_scheduler(
            optimizer,
            self.optim_settings,
            epochs=self.trainer.max_epochs,
            steps=int(self.trainer.estimated_stepping_batches),
        )
        if schedule is None:
            return optimizer
        return {"optimizer": optimizer, "lr_scheduler": schedule}

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint[TASK_KEY] = _class_name(self)
        datamodule = self.trainer.datamodule
        if datamodule is not None:
            checkpoint[DATA_KEY] = _class_name(datamodule)

    def check_data(self, inputs: torch.Tensor, labels: torch.Tensor) -> None:
        """Raises :class:`~lab2.errors.InputError` if the task cannot take these examples (an
        input shape or a label it does not know); the entry points call it before training or
        testing.

        This default runs the task's forward on two examples and reports a failure as bad
        input, with the data's shape; tasks override it with checks that say more.
        """
        was_training = self.training
        self.eval()  # no batch-norm statistics may change
        try:
            with torch.no_grad():
                self(inputs[:2])
        except RuntimeError as error:
            reason = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
            raise InputError(
                f"the model cannot take the data's examples of shape {list(inputs.shape[1:])} "
                f"({reason})"
            ) from error
        finally:
            self.train(was_training)

    def log_computed(self, metrics: MetricCollection, prog_bar: Sequence[str] = ()) -> None:
        """Computes a stage's metrics (synchronised across processes by torchmetrics), logs
        them as plain values and resets them; called from the epoch-end hooks.

        A per-class result, a vector under ``<stage>/<name>_per_class``, is logged as one value
        per class, ``<stage>/<name>/<k>``. A collection that saw no batch logs nothing.

        Logging the metric objects themselves would cost more: Lightning walks a logged
        object's whole state at every ``self.log`` call, and a Part 1 epoch is short enough
        that this was a fifth of its time.
        """
        if not all(metric.update_called for metric in metrics.values()):
            return
        values = metrics.compute()
        metrics.reset()
        for key, value in values.items():
            if key.endswith(PER_CLASS):
                name = key.removesuffix(PER_CLASS)
                for k, per_class in enumerate(value):
                    self.log(f"{name}/{k}", per_class)
            else:
                self.log(key, value, prog_bar=key in prog_bar)

    @property
    def tensorboard(self) -> SummaryWriter | None:
        """The TensorBoard writer of the first TensorBoard logger, on rank zero; else ``None``."""
        if not self.trainer.is_global_zero:
            return None
        for logger in self.loggers:
            if isinstance(logger, TensorBoardLogger):
                return logger.experiment
        return None

    def write_outputs(self, run_dir: Path, stage: str) -> None:
        """Writes the task's pictures and tables into ``run_dir`` after ``stage`` (``"fit"`` or
        ``"test"``); called on rank zero by the entry points."""


def _class_name(obj: object) -> str:
    return f"{type(obj).__module__}.{type(obj).__qualname__}"
