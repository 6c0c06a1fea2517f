"""Part 1 data: 35x35 blood-smear patches, cells (label 1) against background (label 0)."""

from __future__ import annotations

from abc import abstractmethod
from pathlib import Path

import numpy as np
import torch

from lab2.data.augment import add_rotations
from lab2.data.base import EVAL_BATCH_SIZE, Examples, InMemoryDataModule
from lab2.data.cells import make_cell_patches
from lab2.data.cells_mat import load_cell_mat
from lab2.data.split import split_indices
from lab2.errors import InputError


class PatchDataModule(InMemoryDataModule):
    """Patches split at random into training and validation (Ex 2.3), with optional rotated
    copies of the training patches (Ex 2.9).

    For the ``"test"`` stage (``lab2-evaluate``) every patch is a test example: the checkpoint
    being evaluated was trained on other data. Its ``"validate"`` stage gives the validation
    patches of the split that training made with the same settings.

    Args:
        val_fraction: share of the patches held out for validation.
        rotations: ``M``, randomly rotated copies of every training patch added to the training
            set (never to validation).
        shuffle: a fresh random order every epoch (Ex 2.5), or the same order every epoch (Ex 2.7).
        batch_size: patches per step; 1 is the lab's stochastic gradient descent.
        eval_batch_size: examples per validation or test step.
        seed: seed of the split, the rotations and the epoch orders.
        patch_size: the expected height and width of every patch.
    """

    def __init__(
        self,
        val_fraction: float = 0.2,
        rotations: int = 0,
        shuffle: bool = True,
        batch_size: int = 1,
        seed: int = 0,
        eval_batch_size: int = EVAL_BATCH_SIZE,
        patch_size: int = 35,
    ) -> None:
        super().__init__(batch_size, shuffle, seed, eval_batch_size)
        if not isinstance(rotations, int) or isinstance(rotations, bool) or rotations < 0:
            raise InputError(f"data.rotations must be a whole number >= 0, got {rotations!r}")
        self.val_fraction, self.rotations, self.patch_size = val_fraction, rotations, patch_size

    @abstractmethod
    def load_patches(self) -> tuple[np.ndarray, np.ndarray]:
        """All patches ``(N, S, S)`` and labels ``(N,)`` (1 = cell, 0 = background)."""

    def build(self, stage: str) -> dict[str, Examples]:
        patches, labels = self.load_patches()
        # Double precision, as the course's file stores them; the task casts to its own dtype.
        x = torch.from_numpy(np.ascontiguousarray(patches, dtype=np.float64))  # (N, 35, 35)
        t = torch.from_numpy(labels).long()  # (N,)
        if stage == "test":
            return {"test": (x, t)}

        parts = split_indices(len(t), {"val": self.val_fraction}, self.seed)
        val = (x[parts["val"]], t[parts["val"]])
        if stage == "validate":  # validation alone needs no rotated training copies
            return {"val": val}
        train = add_rotations(x[parts["train"]], t[parts["train"]], self.rotations, self.seed)
        return {"train": train, "val": val}

    def describe(self, labels: torch.Tensor) -> str:
        cells = int(labels.sum())
        return f"{len(labels)} patches ({cells} cells, {len(labels) - cells} background)"


class SyntheticCells(PatchDataModule):
    """Patches cut from synthetic smears (:func:`lab2.data.cells.make_cell_patches`).

    Args:
        n_foreground: patches centred on a cell.
        n_background: patches centred away from every cell.
        generator_seed: seed of the generator. It is separate from ``seed`` so that, like the
            course's file, the data set stays the same while runs vary their split and order.
        **kwargs: the :class:`PatchDataModule` settings.
    """

    def __init__(
        self, n_foreground: int = 200, n_background: int = 200, generator_seed: int = 0, **kwargs
    ) -> None:
        super().__init__(**kwargs)
        if kwargs.get("patch_size", 35) != 35:
            raise InputError(
                f"data.patch_size: the synthetic cells are 35x35, got {kwargs['patch_size']}"
            )
        self.n_foreground, self.n_background = n_foreground, n_background
        self.generator_seed = generator_seed

    def load_patches(self) -> tuple[np.ndarray, np.ndarray]:
        return make_cell_patches(self.n_foreground, self.n_background, self.generator_seed)


class CourseCells(PatchDataModule):
    """The course's ``cell_data.mat`` (or any file in its format).

    Args:
        path: the ``.mat`` file.
        **kwargs: the :class:`PatchDataModule` settings.
    """

    def __init__(self, path: str | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        if not path:
            raise InputError("data.path: give the course's .mat file, e.g. data.path=cell_data.mat")
        self.path = Path(path).expanduser()

    def load_patches(self) -> tuple[np.ndarray, np.ndarray]:
        return load_cell_mat(self.path, self.patch_size)
