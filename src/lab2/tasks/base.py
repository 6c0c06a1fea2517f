"""What every task of the lab shares: optimiser settings, TensorBoard access, run-folder
outputs."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import lightning as L
from lightning.pytorch.loggers import TensorBoardLogger
from torch.utils.tensorboard import SummaryWriter

from lab2.tasks.optim import build_optimizer, build_scheduler, check_optim


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
