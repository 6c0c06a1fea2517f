"""Part 1 as a LightningModule: the linear classifier trained by stochastic gradient descent."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch
from torchmetrics import MetricCollection
from torchmetrics.classification import BinaryAccuracy, BinaryPrecision, BinaryRecall

from lab2.figures import filter_figure, save_figure, signed_to_unit
from lab2.models.linear import LinearClassifier
from lab2.tasks.base import LabTask

Batch = tuple[torch.Tensor, torch.Tensor]  # patches (N, S, S), labels (N,)


def binary_metrics(stage: str) -> MetricCollection:
    """Accuracy, precision and recall of "cell" (label 1), with p > 0.5 as the decision."""
    metrics = {"acc": BinaryAccuracy(), "precision": BinaryPrecision(), "recall": BinaryRecall()}
    return MetricCollection(metrics, prefix=f"{stage}/")


class LinearTask(LabTask):
    """Trains :class:`~lab2.models.linear.LinearClassifier` on cell patches.

    The training loss is the lab's negative log-likelihood averaged over the batch (with the
    lab's batch size of one, exactly its per-example update). Every epoch it logs
    ``<stage>/loss``, ``<stage>/acc``, ``<stage>/precision`` and ``<stage>/recall`` for the
    training and validation sets, and the filter ``w`` as an image (see
    :func:`~lab2.figures.signed_to_unit` for its scaling).

    Args:
        patch_size: height and width of the patches and of ``w``.
        init_scale: ``s`` of the initial ``w = s * randn`` (Ex 2.6).
        optim: the ``optim`` settings (plain SGD in the lab).
    """

    def __init__(
        self, patch_size: int = 35, init_scale: float = 0.01, optim: Mapping[str, Any] | None = None
    ) -> None:
        super().__init__(optim or {"name": "sgd", "lr": 0.1})
        self.save_hyperparameters()
        self.model = LinearClassifier(patch_size, init_scale)
        # One metric object per stage, so no stage's counts leak into another's.
        self.train_metrics = binary_metrics("train")
        self.val_metrics = binary_metrics("val")
        self.test_metrics = binary_metrics("test")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Probabilities ``p`` ``(N,)`` that each patch of ``x`` ``(N, S, S)`` is a cell."""
        return torch.sigmoid(self.model(x))

    def _step(self, batch: Batch, stage: str, metrics: MetricCollection) -> torch.Tensor:
        x, t = batch
        losses, y = self.model.nll(x, t)  # (N,), (N,)
        loss = losses.mean()
        metrics.update(torch.sigmoid(y), t)
        # Epoch-level only: no per-step logging or host syncs in the per-example loop.
        self.log(f"{stage}/loss", loss, on_step=False, on_epoch=True, batch_size=len(t))
        self.log_dict(metrics, on_step=False, on_epoch=True, prog_bar=stage == "val")
        return loss

    def training_step(self, batch: Batch, batch_idx: int) -> torch.Tensor:
        return self._step(batch, "train", self.train_metrics)

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        self._step(batch, "val", self.val_metrics)

    def test_step(self, batch: Batch, batch_idx: int) -> None:
        self._step(batch, "test", self.test_metrics)

    def on_train_epoch_end(self) -> None:
        # Ex 2.6: look at w after each epoch. The image's step is the epoch number (1 = after the
        # first epoch), not the optimiser step the scalars use.
        if self.tensorboard is not None:
            image = signed_to_unit(self.model.w)[None]  # (1, S, S)
            self.tensorboard.add_image("w", image, global_step=self.current_epoch + 1)

    def on_fit_end(self) -> None:
        if self.tensorboard is not None:
            self.tensorboard.add_figure("w/final", filter_figure(self.model.w, "final w"))

    def write_outputs(self, run_dir: Path, stage: str) -> None:
        if stage == "fit":
            save_figure(filter_figure(self.model.w, "final w"), run_dir / "w.png")
