"""Part 2 as a LightningModule: a convolutional network that classifies images (the digits)."""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torchmetrics import MeanMetric, MetricCollection
from torchmetrics.classification import (
    MulticlassAccuracy,
    MulticlassConfusionMatrix,
    MulticlassPrecision,
    MulticlassRecall,
)

from lab2.data.warp import check_augment, random_affine
from lab2.errors import InputError
from lab2.figures import confusion_figure, digit_grid, failure_gallery, save_figure
from lab2.models.cnn import build_layers, count_parameters, output_shapes
from lab2.models.normalize import ZeroCenter
from lab2.tasks.base import LabTask
from lab2.tasks.evaluation import (
    FailureCases,
    per_class_table,
    write_failure_cases,
    write_per_class,
)

Batch = tuple[torch.Tensor, torch.Tensor]  # images (N, C, H, W), labels (N,)

# MATLAB's trainingOptions('sgdm') defaults, for a task built without optim settings.
SGDM = {"name": "sgd", "lr": 0.01, "momentum": 0.9, "weight_decay": 1e-4, "epochs": 30}
DEFAULT_FAILURE_CASES = 3  # Ex 2.20 asks for three
EXAMPLES = 32  # training digits shown in examples.png and TensorBoard (Ex 2.10)


def class_metrics(stage: str, num_classes: int) -> MetricCollection:
    """Accuracy, macro precision and recall, and every class's precision and recall, keyed
    ``<stage>/acc``, ``<stage>/precision``, ``<stage>/precision_per_class``, ... ; the per-class
    vectors are logged as ``<stage>/precision/<k>`` (:meth:`LabTask.log_computed`).

    The four precision and recall metrics count the same per-class true and false positives
    and negatives, so torchmetrics' compute groups update them once per batch. The training
    metrics also skip torchmetrics' input checks: the labels were checked before training
    (:meth:`ImageClassifier.check_data`), and the predictions are class indices the task made.
    """
    checks = stage != "train"
    metrics = {
        "acc": MulticlassAccuracy(num_classes, average="micro", validate_args=checks),
        "precision": MulticlassPrecision(num_classes, average="macro", validate_args=checks),
        "recall": MulticlassRecall(num_classes, average="macro", validate_args=checks),
        "precision_per_class": MulticlassPrecision(num_classes, average=None, validate_args=checks),
        "recall_per_class": MulticlassRecall(num_classes, average=None, validate_args=checks),
    }
    return MetricCollection(metrics, prefix=f"{stage}/", compute_groups=True)


class ImageClassifier(LabTask):
    """A network from a layer list (:func:`~lab2.models.cnn.build_layers`) behind MATLAB's
    'zerocenter' input normalisation, trained with cross-entropy on its logits (the softmax
    layer of Ex 2.11 is in the loss and in :meth:`predict_proba`).

    The mean training image is computed from the data module's training set when fitting
    starts and kept in the model (``model.zero_center.mean``), so checkpoints carry it.

    Every epoch it logs, per stage, ``<stage>/loss``, ``<stage>/acc``, the macro
    ``<stage>/precision`` and ``<stage>/recall``, and ``<stage>/precision/<k>`` and
    ``<stage>/recall/<k>`` for every class ``k``, and ``model/params``. Testing also keeps the
    confusion matrix and the most confident mistakes, which :meth:`write_outputs` saves.

    Args:
        layers: the network, one dict per layer (see :mod:`lab2.models.cnn`).
        input_shape: one example's shape, ``(C, H, W)``.
        num_classes: the number of classes; the last layer must output this many numbers.
        optim: the ``optim`` settings (default: MATLAB's ``sgdm``).
        augment: random rotation, scale and shift of the training images
            (:func:`~lab2.data.warp.random_affine`); ``None``: no augmentation.
    """

    def __init__(
        self,
        layers: Sequence[Mapping[str, Any]],
        input_shape: Sequence[int] = (1, 28, 28),
        num_classes: int = 10,
        optim: Mapping[str, Any] | None = None,
        augment: Mapping[str, float] | None = None,
    ) -> None:
        super().__init__(optim or SGDM)
        self.save_hyperparameters()
        self.input_shape = tuple(int(s) for s in input_shape)
        if len(self.input_shape) != 3:
            raise InputError(f"model.input_shape must be [C, H, W], got {list(input_shape)}")
        self.num_classes = num_classes
        self.augment = check_augment(augment)

        network = build_layers(layers, self.input_shape)
        out = output_shapes(network, self.input_shape)[-1]
        if out != (num_classes,):
            raise InputError(
                f"model.layers: the last layer must output {num_classes} class scores "
                f"(model.num_classes), got shape {out}"
            )
        # One flat Sequential, so the model summary lists every layer at depth 2.
        self.model = nn.Sequential(
            OrderedDict([("zero_center", ZeroCenter(self.input_shape)), *network.named_children()])
        )
        # Channels-last memory order for the convolution weights and (in forward) the images:
        # on this project's CPUs it made a training step of better_cnn about 30% faster than the
        # default order, whose max pooling alone took most of basic_cnn's forward pass.
        self.model.to(memory_format=torch.channels_last)

        # One metric object per stage, so no stage's counts leak into another's.
        self.train_metrics = class_metrics("train", num_classes)
        # The training steps' predicted and true classes, which update train_metrics once at the
        # epoch's end: an update per step cost 0.7 ms, 6% of a basic_cnn step on this CPU.
        self.train_predictions: list[tuple[torch.Tensor, torch.Tensor]] = []
        # The training loss's epoch mean, kept by a metric rather than by self.log at every
        # step: Lightning's self.log costs about 0.36 ms a call here, 4% of a basic_cnn step.
        # The metric averages over all processes when computed.
        self.train_loss = MeanMetric()
        self.val_metrics = class_metrics("val", num_classes)
        self.test_metrics = class_metrics("test", num_classes)
        self.test_confusion = MulticlassConfusionMatrix(num_classes)
        self.test_failures = FailureCases(DEFAULT_FAILURE_CASES)
        self.results: dict[str, Any] = {}  # what the last test found, for write_outputs
        self.examples: Batch | None = None  # a few training digits, for a look at the data

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Class scores (logits) ``(N, K)`` of images ``(N, C, H, W)`` in [0, 1]."""
        return self.model(x.contiguous(memory_format=torch.channels_last))

    @torch.no_grad()
    def predict_proba(self, x: torch.Tensor) -> torch.Tensor:
        """Class probabilities ``(N, K)`` (the softmax of the logits), in evaluation mode."""
        was_training = self.training
        self.eval()
        try:
            return F.softmax(self(x.to(self.device)), dim=1)  # (N, K)
        finally:
            self.train(was_training)

    def check_data(self, inputs: torch.Tensor, labels: torch.Tensor) -> None:
        if tuple(inputs.shape[1:]) != self.input_shape:
            raise InputError(
                f"the model takes images of shape {list(self.input_shape)} (model.input_shape), "
                f"but the data holds {list(inputs.shape[1:])}"
            )
        if len(labels) and int(labels.max()) >= self.num_classes:
            raise InputError(
                f"the model knows {self.num_classes} classes (model.num_classes), "
                f"but the data has label {int(labels.max())}"
            )

    def setup(self, stage: str) -> None:
        # MATLAB's 'zerocenter': the mean of the training images only. A resumed run restores
        # the checkpoint's mean after this hook, so it keeps the mean it started with.
        if stage != "fit":
            return
        datamodule = self.trainer.datamodule
        if not hasattr(datamodule, "mean_input"):
            raise TypeError("ImageClassifier trains from a data module with mean_input()")
        self.model.zero_center.fit(datamodule.mean_input().to(self.model.zero_center.mean.device))
        x, t = datamodule.sets["train"]
        self.examples = (x[:EXAMPLES].cpu(), t[:EXAMPLES].cpu())

    def on_fit_start(self) -> None:
        if self.tensorboard is not None and self.examples is not None:
            for tag, figure in self._example_figures().items():
                self.tensorboard.add_figure(f"data/{tag}", figure)

    def _example_figures(self) -> dict[str, Any]:
        """Ex 2.10: the first training digits, and the same digits augmented, if they are."""
        x, t = self.examples
        figures = {"examples": digit_grid(x, t, "training digits")}
        if self.augment:
            # Its own generator: drawing from the global one would make training depend on
            # whether a logger is there to show the figure.
            generator = torch.Generator().manual_seed(0)
            moved = random_affine(x, **self.augment, generator=generator)  # (M, 1, H, W)
            figures["examples_augmented"] = digit_grid(moved, t, "as augmented for training")
        return figures

    # Steps: update the stage's metrics; they are computed and logged at the epoch's end.

    def training_step(self, batch: Batch, batch_idx: int) -> torch.Tensor:
        x, t = batch
        if self.augment:
            x = random_affine(x, **self.augment)  # (N, C, H, W)
        logits = self(x)  # (N, K)
        loss = F.cross_entropy(logits, t)
        self.train_predictions.append((logits.detach().argmax(dim=1), t))
        self.train_loss.update(loss.detach(), weight=len(t))
        return loss

    def validation_step(self, batch: Batch, batch_idx: int) -> None:
        self._evaluate(batch, "val", self.val_metrics)

    def test_step(self, batch: Batch, batch_idx: int) -> None:
        x, t = batch
        logits = self._evaluate(batch, "test", self.test_metrics)
        self.test_confusion.update(logits, t)
        self.test_failures.update(x, t, F.softmax(logits, dim=1))

    def _evaluate(self, batch: Batch, stage: str, metrics: MetricCollection) -> torch.Tensor:
        x, t = batch
        logits = self(x)  # (N, K)
        loss = F.cross_entropy(logits, t)
        metrics.update(logits, t)
        self.log(
            f"{stage}/loss", loss, on_step=False, on_epoch=True, batch_size=len(t), sync_dist=True
        )
        return logits

    # Epoch ends: each stage's collection is computed, logged as plain values and reset
    # (LabTask.log_computed).

    def on_train_epoch_end(self) -> None:
        if self.train_loss.update_called:
            self.log("train/loss", self.train_loss.compute())
            self.train_loss.reset()
        if self.train_predictions:
            predicted = torch.cat([p for p, _ in self.train_predictions])
            labels = torch.cat([t for _, t in self.train_predictions])
            self.train_predictions.clear()
            self.train_metrics.update(predicted, labels)
        self.log_computed(self.train_metrics)
        self.log("model/params", float(count_parameters(self)))

    def on_validation_epoch_end(self) -> None:
        self.log_computed(self.val_metrics, prog_bar=["val/acc"])

    def on_test_start(self) -> None:
        # The data module says how many failure cases to keep (data.failure_cases).
        count = getattr(self.trainer.datamodule, "failure_cases", DEFAULT_FAILURE_CASES)
        self.test_failures.count = count

    def on_test_epoch_end(self) -> None:
        self.log_computed(self.test_metrics, prog_bar=["test/acc"])
        self.log("model/params", float(count_parameters(self)))
        if not self.test_confusion.update_called:
            return
        confusion = self.test_confusion.compute().cpu()  # (K, K)
        self.test_confusion.reset()
        failures = tuple(t.cpu() for t in self.test_failures.compute())
        self.test_failures.reset()
        self.results = {"confusion": confusion, "failures": failures}

        if self.tensorboard is not None:
            self.tensorboard.add_figure("test/confusion_matrix", confusion_figure(confusion))
            if len(failures[1]):
                self.tensorboard.add_figure("test/failure_cases", failure_gallery(*failures))

    def write_outputs(self, run_dir: Path, stage: str) -> None:
        """After fitting: ``examples.png`` (and ``examples_augmented.png``). After testing:
        ``per_class.csv`` and ``per_class.md``, ``confusion_matrix.png`` and the failure cases
        as ``<true>_mistaken_as_<predicted>.png``."""
        if stage == "fit" and self.examples is not None:
            for name, figure in self._example_figures().items():
                save_figure(figure, run_dir / f"{name}.png")
        if stage != "test" or not self.results:
            return
        confusion = self.results["confusion"]
        write_per_class(run_dir, per_class_table(confusion))
        save_figure(confusion_figure(confusion), run_dir / "confusion_matrix.png")
        write_failure_cases(run_dir, *self.results["failures"])
