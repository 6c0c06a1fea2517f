"""Part 1 as a LightningModule: the linear classifier trained by stochastic gradient descent."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torchmetrics import MetricCollection
from torchmetrics.classification import BinaryAccuracy, BinaryPrecision, BinaryRecall

from lab2.data.base import InMemoryDataModule
from lab2.errors import InputError
from lab2.figures import filter_figure, save_figure, signed_to_unit
from lab2.io import atomic_path
from lab2.models.linear import LinearClassifier, nll_from_score, sgd_per_example_
from lab2.tasks.base import LabTask

log = logging.getLogger(__name__)

Batch = tuple[torch.Tensor, torch.Tensor]  # patches (N, S, S), labels (N,)
DTYPES = {"float32": torch.float32, "float64": torch.float64}


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

    The fast path: with one patch per update and plain SGD on one CPU process, a Lightning
    step per patch would cost far more than the update itself. The task then takes each epoch
    as one batch and makes the per-example updates itself with
    :func:`~lab2.models.linear.sgd_per_example_` (the same gradient code as the hand-written
    backward), inside one optimiser step, so Lightning still runs the epochs, logging,
    checkpoints and callbacks. One Lightning step is then one epoch (``global_step`` and the
    x-axis of the training scalars count epochs).

    Args:
        patch_size: height and width of the patches and of ``w``.
        init_scale: ``s`` of the initial ``w = s * randn`` (Ex 2.6).
        optim: the ``optim`` settings (plain SGD in the lab).
        fast_sgd: ``"auto"`` takes the fast path whenever it applies; ``True`` requires it (an
            error says why it does not apply); ``False`` always steps through Lightning.
        dtype: ``"float64"`` (the lab's double precision, the default) or ``"float32"``.
    """

    def __init__(
        self,
        patch_size: int = 35,
        init_scale: float = 0.01,
        optim: Mapping[str, Any] | None = None,
        fast_sgd: bool | str = "auto",
        dtype: str = "float64",
    ) -> None:
        super().__init__(optim or {"name": "sgd", "lr": 0.1})
        if fast_sgd not in (True, False, "auto"):
            raise InputError(f"model.fast_sgd must be true, false or auto, got {fast_sgd!r}")
        if dtype not in DTYPES:
            raise InputError(f"model.dtype must be one of {sorted(DTYPES)}, got {dtype!r}")
        self.save_hyperparameters()
        self.model = LinearClassifier(patch_size, init_scale, DTYPES[dtype])
        # One metric object per stage, so no stage's counts leak into another's.
        self.train_metrics = binary_metrics("train")
        self.val_metrics = binary_metrics("val")
        self.test_metrics = binary_metrics("test")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Probabilities ``p`` ``(N,)`` that each patch of ``x`` ``(N, S, S)`` is a cell."""
        return torch.sigmoid(self.model(x))

    def setup(self, stage: str) -> None:
        if stage != "fit":
            return
        blocker = self._fast_path_blocker()
        if self.hparams.fast_sgd is True and blocker:
            raise InputError(f"model.fast_sgd=true, but the fast path does not apply: {blocker}")
        fast = self.hparams.fast_sgd is not False and blocker is None
        self.automatic_optimization = not fast
        if fast:
            self.trainer.datamodule.serve_whole_epochs()
            log.info("per-example SGD on the fast path (one Lightning step per epoch)")
        elif self.hparams.fast_sgd == "auto":
            log.info("stepping through Lightning: the fast path does not apply (%s)", blocker)

    def _fast_path_blocker(self) -> str | None:
        """Why the fast path cannot train this run, or ``None`` if it can."""
        trainer, settings = self.trainer, self.optim_settings
        datamodule = trainer.datamodule
        if not isinstance(datamodule, InMemoryDataModule):
            return "the data module does not hold its sets in memory"
        if datamodule.batch_size != 1:
            return f"data.batch_size is {datamodule.batch_size}; it makes one update per patch"
        plain_sgd = settings["name"] == "sgd" and not settings.get("scheduler")
        if not plain_sgd or settings.get("momentum") or settings.get("weight_decay"):
            return "optim is not plain SGD (no momentum, weight decay or schedule)"
        if trainer.world_size > 1 or trainer.strategy.root_device.type != "cpu":
            return "it runs in one process on the CPU"
        if trainer.accumulate_grad_batches != 1 or trainer.gradient_clip_val:
            return "it does not accumulate or clip gradients"
        return None

    def _log_epoch(
        self, stage: str, metrics: MetricCollection, y: torch.Tensor, t: torch.Tensor
    ) -> torch.Tensor:
        """Updates the stage's metrics from the scores ``y`` and logs the loss; the metrics are
        logged at the epoch's end (:meth:`~lab2.tasks.base.LabTask.log_computed`)."""
        loss = nll_from_score(y, t.to(y.dtype)).mean()
        metrics.update(torch.sigmoid(y), t)
        # Epoch-level only: no per-step logging or host syncs in the per-example loop.
        self.log(
            f"{stage}/loss", loss, on_step=False, on_epoch=True, batch_size=len(t), sync_dist=True
        )
        return loss

    def _step(self, batch: Batch, stage: str, metrics: MetricCollection) -> torch.Tensor:
        x, t = batch
        losses, y = self.model.nll(x, t)  # (N,), (N,)
        self._log_epoch(stage, metrics, y, t)
        return losses.mean()

    def training_step(self, batch: Batch, batch_idx: int) -> torch.Tensor | None:
        if self.automatic_optimization:
            return self._step(batch, "train", self.train_metrics)

        # The fast path: the whole epoch in one optimiser step. The closure makes the
        # per-example updates; SGD itself then finds no gradient to apply.
        x, t = batch
        optimizer = self.optimizers()
        lr = optimizer.param_groups[0]["lr"]
        scores = []
        optimizer.step(
            closure=lambda: scores.append(sgd_per_example_(self.model.w, self.model.w0, x, t, lr))
        )
        self._log_epoch("train", self.train_metrics, scores[0].to(x.device), t)
        return None

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        self._step(batch, "val", self.val_metrics)

    def test_step(self, batch: Batch, batch_idx: int) -> None:
        self._step(batch, "test", self.test_metrics)

    def on_validation_epoch_end(self) -> None:
        self.log_computed(self.val_metrics, prog_bar=["val/acc", "val/precision", "val/recall"])

    def on_test_epoch_end(self) -> None:
        self.log_computed(self.test_metrics)

    def on_train_epoch_end(self) -> None:
        self.log_computed(self.train_metrics)
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
            # The numbers too, for the sweep summary's side-by-side figure (lab2.cli.summary).
            with atomic_path(run_dir / "w.npy") as tmp, open(tmp, "wb") as f:
                np.save(f, self.model.w.detach().cpu().numpy())
