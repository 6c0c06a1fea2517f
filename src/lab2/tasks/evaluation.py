"""What testing a classifier leaves behind: the per-class table (Ex 2.19) and the failure cases
(Ex 2.20)."""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from pathlib import Path

import torch
from torchmetrics import Metric

from lab2.figures import save_gray_png
from lab2.io import write_text


@dataclass(frozen=True)
class ClassRow:
    """One class's line of the per-class table."""

    label: int
    precision: float  # of the examples predicted as this class, the share truly of it
    recall: float  # of the examples truly of this class, the share predicted as it
    support: int  # examples truly of this class


def per_class_table(confusion: torch.Tensor) -> list[ClassRow]:
    """Precision, recall and support of every class, counted from a confusion matrix.

    With ``C[i, j]`` the number of examples of true class ``i`` predicted as ``j``:
    ``precision_k = C[k, k] / sum_i C[i, k]`` (its column) and
    ``recall_k = C[k, k] / sum_j C[k, j]`` (its row); a class never predicted (or never present)
    gets 0, as torchmetrics' ``zero_division=0`` does.

    Example:
        >>> rows = per_class_table(torch.tensor([[3, 1], [0, 4]]))
        >>> [(r.label, r.precision, r.recall, r.support) for r in rows]
        [(0, 1.0, 0.75, 4), (1, 0.8, 1.0, 4)]
    """
    confusion = confusion.detach().cpu().double()
    hits = confusion.diagonal()  # (K,)
    predicted, actual = confusion.sum(dim=0), confusion.sum(dim=1)  # (K,), (K,)
    precision = torch.where(predicted > 0, hits / predicted.clamp(min=1), 0.0)
    recall = torch.where(actual > 0, hits / actual.clamp(min=1), 0.0)
    return [
        ClassRow(k, float(precision[k]), float(recall[k]), int(actual[k]))
        for k in range(len(confusion))
    ]


def write_per_class(run_dir: Path, rows: list[ClassRow]) -> None:
    """Writes ``per_class.csv`` (one row per class) and ``per_class.md`` (the same table for
    reading, with the macro averages)."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(["class", "precision", "recall", "support"])
    for row in rows:
        writer.writerow([row.label, f"{row.precision:.6f}", f"{row.recall:.6f}", row.support])
    write_text(run_dir / "per_class.csv", buffer.getvalue())

    lines = ["| class | precision | recall | support |", "|---:|---:|---:|---:|"]
    lines += [f"| {r.label} | {r.precision:.4f} | {r.recall:.4f} | {r.support} |" for r in rows]
    macro_precision = sum(r.precision for r in rows) / len(rows)
    macro_recall = sum(r.recall for r in rows) / len(rows)
    total = sum(r.support for r in rows)
    lines.append(f"| macro average | {macro_precision:.4f} | {macro_recall:.4f} | {total} |")
    write_text(run_dir / "per_class.md", "\n".join(lines) + "\n")


class FailureCases(Metric):
    """The ``count`` misclassified examples the network was most sure about.

    Keeps, over all batches (and, through torchmetrics' synchronisation, over all processes), the
    mistakes with the highest predicted probability for the wrong class: the most instructive
    failures, and a deterministic choice. Only the best ``count`` are kept between batches, so
    memory stays small however many mistakes there are.

    :meth:`compute` returns ``(images, labels, probabilities)``: ``(M, C, H, W)``, ``(M,)`` and
    ``(M, K)``, most confident first, with ``M <= count``.
    """

    full_state_update = False

    def __init__(self, count: int) -> None:
        super().__init__()
        self.count = count
        self.add_state("images", default=[], dist_reduce_fx="cat")
        self.add_state("labels", default=[], dist_reduce_fx="cat")
        self.add_state("probabilities", default=[], dist_reduce_fx="cat")

    def update(self, images: torch.Tensor, labels: torch.Tensor, probabilities: torch.Tensor):
        wrong = probabilities.argmax(dim=1) != labels  # (N,)
        self.images.append(images[wrong].detach())
        self.labels.append(labels[wrong].detach())
        self.probabilities.append(probabilities[wrong].detach())
        images, labels, probabilities = self._best()
        self.images, self.labels, self.probabilities = [images], [labels], [probabilities]

    def compute(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return self._best()

    def _best(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        # After a multi-process sync the states are single tensors, not lists.
        def merged(state):
            return torch.cat(state) if isinstance(state, list) else state

        images, labels, p = merged(self.images), merged(self.labels), merged(self.probabilities)
        confidence = p.max(dim=1).values  # (M,)
        keep = torch.argsort(confidence, descending=True, stable=True)[: self.count]
        return images[keep], labels[keep], p[keep]


def failure_file_names(labels: torch.Tensor, predictions: torch.Tensor) -> list[str]:
    """``<true>_mistaken_as_<predicted>.png``, with ``_2``, ``_3``, ... when names collide.

    Example:
        >>> failure_file_names(torch.tensor([7, 4, 7]), torch.tensor([1, 9, 1]))
        ['7_mistaken_as_1.png', '4_mistaken_as_9.png', '7_mistaken_as_1_2.png']
    """
    names, seen = [], {}
    for label, predicted in zip(labels.tolist(), predictions.tolist(), strict=True):
        stem = f"{label}_mistaken_as_{predicted}"
        seen[stem] = seen.get(stem, 0) + 1
        names.append(f"{stem}.png" if seen[stem] == 1 else f"{stem}_{seen[stem]}.png")
    return names


def write_failure_cases(
    run_dir: Path, images: torch.Tensor, labels: torch.Tensor, probabilities: torch.Tensor
) -> list[Path]:
    """Saves each failure case as an 8-bit grayscale PNG named after its mistake (Ex 2.20),
    intensities stretched to 0-255 so the digit is plainly visible; returns the paths."""
    names = failure_file_names(labels, probabilities.argmax(dim=1))
    paths = [run_dir / name for name in names]
    for image, path in zip(images, paths, strict=True):
        save_gray_png(image, path)
    return paths
