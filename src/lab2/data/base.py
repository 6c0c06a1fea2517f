"""The DataModule all of the lab's data sets share: tensors in memory, split once, served in
slices."""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod

import lightning as L
import torch

from lab2.data.loader import EpochOrder, TensorBatches
from lab2.errors import InputError

log = logging.getLogger(__name__)

Examples = tuple[torch.Tensor, torch.Tensor]  # (inputs, labels)

# Examples per validation or test step. Larger is not faster on a CPU: basic_cnn validated 500
# digits in 33 ms as one batch and in 11 ms as batches of 128 here, whose activations stay in
# the processor's cache.
EVAL_BATCH_SIZE = 128


class InMemoryDataModule(L.LightningDataModule, ABC):
    """Builds its sets once, keeps each as one tensor on the training device and serves
    mini-batches by indexing.

    Subclasses implement :meth:`build`, which returns the sets a stage needs (``"train"``,
    ``"val"``, ``"test"``) as ``(inputs, labels)`` pairs. A subclass whose data holds out a test
    set sets ``has_test_set``, and ``lab2-train`` then tests the model after fitting.
    ``evaluation_stages`` names the stages ``lab2-evaluate`` runs on a checkpoint: validation
    and test, so that the training run's final ``val/`` and ``test/`` metrics come out again,
    or test alone where the data to validate on may be absent.

    Args:
        batch_size: training examples per step (1 is the lab's stochastic gradient descent).
        shuffle: a fresh random order every epoch, or the same stored order every epoch.
        seed: seed of the split, the augmentation and the epoch orders.
        eval_batch_size: examples per validation or test step; the metrics do not depend on
            it.
    """

    has_test_set = False
    evaluation_stages: tuple[str, ...] = ("validate", "test")

    def __init__(
        self, batch_size: int, shuffle: bool, seed: int, eval_batch_size: int = EVAL_BATCH_SIZE
    ) -> None:
        super().__init__()
        for name, value in [
            ("data.batch_size", batch_size),
            ("data.eval_batch_size", eval_batch_size),
        ]:
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise InputError(f"{name} must be a whole number >= 1, got {value!r}")
        if not isinstance(shuffle, bool):
            raise InputError(f"data.shuffle must be true or false, got {shuffle!r}")
        self.batch_size, self.shuffle, self.seed = batch_size, shuffle, seed
        self.eval_batch_size = eval_batch_size
        self.train_chunk: int | None = None  # see serve_whole_epochs
        self.sets: dict[str, Examples] = {}
        self._on_device: dict[str, Examples] = {}

    @abstractmethod
    def build(self, stage: str) -> dict[str, Examples]:
        """Loads or makes the sets that ``stage`` (``"fit"``, ``"validate"`` or ``"test"``)
        needs."""

    def setup(self, stage: str) -> None:
        """Builds the sets for ``stage`` once; later calls reuse them."""
        needed = {"fit": ("train", "val"), "validate": ("val",), "test": ("test",)}.get(stage, ())
        if all(name in self.sets for name in needed):
            return
        built = self.build(stage)
        for name, (inputs, labels) in built.items():
            if len(inputs) != len(labels):
                raise ValueError(f"{name}: {len(inputs)} inputs but {len(labels)} labels")
            log.info("%s set: %s", name, self.describe(labels))
        self.sets.update(built)

    def describe(self, labels: torch.Tensor) -> str:
        """A one-line summary of a set, for the log: its size and examples per class."""
        counts = torch.bincount(labels).tolist()
        return f"{len(labels)} examples, per class {dict(enumerate(counts))}"

    def serve_whole_epochs(self) -> None:
        """Serves each training epoch as one batch, in the epoch's visiting order.

        For a task that makes its own per-example updates within a batch (the Part 1 fast
        path): one Lightning step per epoch instead of one per example.
        """
        self.train_chunk = len(self.sets["train"][0])

    def mean_input(self) -> torch.Tensor:
        """The mean training input, ``(C, H, W)`` for images: the centre of MATLAB's
        'zerocenter' normalisation, computed on the training set only, so that no validation or
        test example leaks into the model."""
        if "train" not in self.sets:
            raise RuntimeError("the 'train' set is not built; call setup('fit') first")
        return self.sets["train"][0].mean(dim=0)

    def train_dataloader(self) -> TensorBatches:
        return self._loader("train", self.train_chunk or self.batch_size, self.shuffle, pad=True)

    def val_dataloader(self) -> TensorBatches:
        return self._loader("val", self.eval_batch_size, shuffle=False, pad=False)

    def test_dataloader(self) -> TensorBatches:
        return self._loader("test", self.eval_batch_size, shuffle=False, pad=False)

    def _loader(self, name: str, batch_size: int, shuffle: bool, pad: bool) -> TensorBatches:
        if name not in self.sets:
            raise RuntimeError(f"the {name!r} set is not built; call setup() first")
        tensors = self._device_copy(name)
        world_size, rank = 1, 0
        if self.trainer is not None:
            world_size, rank = self.trainer.world_size, self.trainer.global_rank
        order = EpochOrder(len(tensors[0]), shuffle, self.seed, world_size, rank, pad)
        return TensorBatches(tensors, batch_size, order)

    def _device_copy(self, name: str) -> Examples:
        """The set on the training device, moved there once."""
        device = self.trainer.strategy.root_device if self.trainer is not None else None
        if device is None:
            return self.sets[name]
        cached = self._on_device.get(name)
        if cached is None or cached[0].device != device:
            cached = tuple(t.to(device) for t in self.sets[name])
            self._on_device[name] = cached
        return cached
