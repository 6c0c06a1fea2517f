import numpy as np
import pytest
import torch
from PIL import Image

from lab2.tasks.classifier import class_metrics
from lab2.tasks.evaluation import (
    FailureCases,
    failure_file_names,
    per_class_table,
    write_failure_cases,
    write_per_class,
)

# True class in rows, predicted class in columns. By hand: precision is the diagonal over the
# column sum (6, 6, 4), recall the diagonal over the row sum (7, 4, 5).
CONFUSION = torch.tensor([[5, 2, 0], [1, 3, 0], [0, 1, 4]])
BY_HAND = {  # class: (precision, recall, support)
    0: (5 / 6, 5 / 7, 7),
    1: (3 / 6, 3 / 4, 4),
    2: (4 / 4, 4 / 5, 5),
}


def test_per_class_precision_and_recall_match_a_hand_count():
    rows = per_class_table(CONFUSION)
    for row in rows:
        precision, recall, support = BY_HAND[row.label]
        assert row.precision == pytest.approx(precision)
        assert row.recall == pytest.approx(recall)
        assert row.support == support


def test_a_class_never_predicted_has_precision_zero():
    rows = per_class_table(torch.tensor([[2, 0], [1, 0]]))
    assert (rows[1].precision, rows[1].recall, rows[1].support) == (0.0, 0.0, 1)


def test_torchmetrics_per_class_values_agree_with_the_confusion_matrix():
    generator = torch.Generator().manual_seed(0)
    labels = torch.randint(0, 3, (200,), generator=generator)
    logits = torch.randn(200, 3, generator=generator) + 2 * torch.nn.functional.one_hot(labels, 3)
    metrics = class_metrics("test", 3)
    metrics.update(logits, labels)
    values = metrics.compute()
    predicted = logits.argmax(1)
    confusion = torch.zeros(3, 3, dtype=torch.long)
    for t, p in zip(labels.tolist(), predicted.tolist(), strict=True):
        confusion[t, p] += 1
    for row in per_class_table(confusion):
        k = int(row.label)
        assert float(values["test/precision_per_class"][k]) == pytest.approx(row.precision)
        assert float(values["test/recall_per_class"][k]) == pytest.approx(row.recall)
    assert float(values["test/acc"]) == pytest.approx(float((predicted == labels).float().mean()))
    macro = sum(r.precision for r in per_class_table(confusion)) / 3
    assert float(values["test/precision"]) == pytest.approx(macro)


def test_per_class_files_hold_every_class(tmp_path):
    write_per_class(tmp_path, per_class_table(CONFUSION))
    lines = (tmp_path / "per_class.csv").read_text().splitlines()
    assert lines[0] == "class,precision,recall,support"
    assert lines[1] == "0,0.833333,0.714286,7"
    assert len(lines) == 4
    table = (tmp_path / "per_class.md").read_text().splitlines()
    assert table[0] == "| class | precision | recall | support |"
    assert table[3] == "| 1 | 0.5000 | 0.7500 | 4 |"
    assert table[-1].startswith("| macro average | 0.7778 |")


def test_failure_cases_keep_the_most_confident_mistakes_across_batches():
    failures = FailureCases(count=2)
    images = torch.arange(6, dtype=torch.float32).view(6, 1, 1, 1).expand(6, 1, 2, 2)
    labels = torch.tensor([0, 0, 1, 1, 0, 1])
    # Mistakes: examples 0 (p 0.6 for class 1), 3 (0.9 for 0), 4 (0.7 for 1); 1, 2, 5 are right.
    p = torch.tensor([[0.4, 0.6], [0.8, 0.2], [0.3, 0.7], [0.9, 0.1], [0.3, 0.7], [0.45, 0.55]])
    failures.update(images[:3], labels[:3], p[:3])
    failures.update(images[3:], labels[3:], p[3:])
    kept_images, kept_labels, kept_p = failures.compute()
    assert kept_images[:, 0, 0, 0].tolist() == [3.0, 4.0]
    assert kept_labels.tolist() == [1, 0]
    assert torch.equal(kept_p, p[[3, 4]])


def test_failure_names_say_the_mistake_and_count_collisions():
    names = failure_file_names(torch.tensor([7, 7, 3, 7]), torch.tensor([1, 1, 8, 1]))
    assert names == [
        "7_mistaken_as_1.png",
        "7_mistaken_as_1_2.png",
        "3_mistaken_as_8.png",
        "7_mistaken_as_1_3.png",
    ]


def test_failure_pngs_are_8_bit_gray_stretched_to_full_range(tmp_path):
    digit = torch.zeros(1, 28, 28)
    digit[0, 8:20, 12:16] = 0.3  # a faint stroke: as 8 bits unscaled it would be barely visible
    p = torch.tensor([[0.1, 0.9]])
    (path,) = write_failure_cases(tmp_path, digit[None], torch.tensor([0]), p)
    assert path.name == "0_mistaken_as_1.png"
    with Image.open(path) as image:
        assert image.mode == "L"
        assert image.size == (28, 28)
        pixels = torch.from_numpy(np.asarray(image).astype(np.int64))  # (28, 28)
    assert pixels.min() == 0
    assert pixels.max() == 255
    assert torch.equal(pixels > 0, digit[0] > 0)  # the same digit, stretched
