"""Measuring a run from the inside: a callback that times the fit, its epochs and its training
steps."""

from __future__ import annotations

import itertools
import time
from pathlib import Path

import lightning as L

from lab2.io import write_json


class FitTimer(L.Callback):
    """Times ``trainer.fit``, each of its epochs and the training steps within it, and writes the
    times to ``path`` as JSON.

    ``fit_s`` runs from the start of fitting to its end (every epoch's training, validation,
    logging and checkpointing, and the start-up within ``fit``); ``epoch_s`` is each epoch's
    time from its start to the next one's (the last: to the end of training), so it holds the
    epoch's validation, logging and checkpoint; ``train_step_s`` is the time spent inside
    training batches (``training_step`` and its optimiser step), the training loop proper;
    ``val_s`` is the time spent in the epochs' validation (not in the sanity check before
    training), from its start to its end.
    """

    def __init__(self, path: str) -> None:
        self.path = Path(path)
        self.train_step_s = self.val_s = 0.0
        self.examples = 0
        self.epoch_starts: list[float] = []
        self._fit_started = self._batch_started = self._validation_started = 0.0

    def on_fit_start(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        self._fit_started = time.perf_counter()

    def on_train_epoch_start(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        self.epoch_starts.append(time.perf_counter())

    def on_train_batch_start(self, trainer, module, batch, batch_idx) -> None:
        self._batch_started = time.perf_counter()

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        self.train_step_s += time.perf_counter() - self._batch_started
        self.examples += len(batch[0])

    def on_validation_start(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        self._validation_started = time.perf_counter()

    def on_validation_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        if not trainer.sanity_checking:
            self.val_s += time.perf_counter() - self._validation_started

    def on_fit_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        ended = time.perf_counter()
        if trainer.is_global_zero:
            bounds = [*self.epoch_starts, ended]
            times = {
                "fit_s": ended - self._fit_started,
                "epoch_s": [b - a for a, b in itertools.pairwise(bounds)],
                "train_step_s": self.train_step_s,
                "val_s": self.val_s,
                "examples": self.examples,
                "epochs": trainer.current_epoch,
            }
            write_json(self.path, times)
