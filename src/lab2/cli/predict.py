"""``lab2-predict``: the class probabilities of image files, by a trained network (Ex 2.13).

lab2-predict ckpt_path=outputs/train/.../checkpoints/last.ckpt image=digit.png
lab2-predict ckpt_path=CKPT image=my_digits/          # one line per image file in the folder
"""

from __future__ import annotations

import csv
import io
import logging
from dataclasses import dataclass
from pathlib import Path

import hydra
import torch
from omegaconf import DictConfig

from lab2.cli import config_dir
from lab2.cli.reporting import reporting_input_errors
from lab2.data.images import image_files, load_digits
from lab2.errors import InputError
from lab2.io import write_text
from lab2.tasks.checkpoint import load_task
from lab2.tasks.classifier import ImageClassifier

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Prediction:
    """One image's class probabilities and its most probable class."""

    path: Path
    probabilities: list[float]

    @property
    def label(self) -> int:
        return max(range(len(self.probabilities)), key=self.probabilities.__getitem__)

    def line(self) -> str:
        shown = " ".join(f"{k}:{p:.3f}" for k, p in enumerate(self.probabilities))
        best = self.probabilities[self.label]
        return f"{self.path}: {self.label} (p={best:.3f})  [{shown}]"


def predict(ckpt_path: str, image: str) -> list[Prediction]:
    """The predictions of the checkpoint's network for ``image``, a file or a folder of them.

    Each image is converted to the network's input the way the training digits look
    (:func:`lab2.data.images.as_digit`).

    Raises:
        InputError: a missing or foreign checkpoint, one that is not an image classifier, or a
            file that is not an image.
    """
    if not image:
        raise InputError("image: give an image file or a folder of them, e.g. image=digit.png")
    task, _ = load_task(ckpt_path)
    if not isinstance(task, ImageClassifier):
        raise InputError(
            f"ckpt_path: {ckpt_path} holds a {type(task).__name__}; lab2-predict takes a Part 2 "
            "image classifier (model=basic_cnn, better_cnn, ...)"
        )
    paths = image_files(image)
    images = load_digits(paths, size=task.input_shape[-1])  # (N, 1, 28, 28)
    probabilities = task.predict_proba(images)  # (N, K)
    return [Prediction(path, p.tolist()) for path, p in zip(paths, probabilities, strict=True)]


def write_predictions(path: Path, predictions: list[Prediction]) -> None:
    """``predictions.csv``: file, predicted class, then the probability of every class."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    classes = len(predictions[0].probabilities)
    writer.writerow(["file", "predicted", *(f"p{k}" for k in range(classes))])
    for prediction in predictions:
        probabilities = [f"{p:.6f}" for p in prediction.probabilities]
        writer.writerow([str(prediction.path), prediction.label, *probabilities])
    write_text(path, buffer.getvalue())


@hydra.main(config_path=config_dir(), config_name="predict", version_base="1.3")
def main(config: DictConfig) -> None:
    """The ``lab2-predict`` command: prints one line per image and writes
    ``predictions.csv`` into its run folder."""
    run_dir = Path(config.paths.output_dir)
    with reporting_input_errors("lab2-predict", run_dir):
        torch.set_grad_enabled(False)
        predictions = predict(config.get("ckpt_path"), config.get("image"))
    for prediction in predictions:
        print(prediction.line())
    write_predictions(run_dir / "predictions.csv", predictions)
    log.info("predictions: %s", run_dir / "predictions.csv")


if __name__ == "__main__":
    main()
