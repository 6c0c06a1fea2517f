"""Part 2 end to end: ``lab2-train`` on the digits, then ``lab2-evaluate`` and ``lab2-predict``
on its checkpoint."""

import json
import logging
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from hydra import compose, initialize_config_dir
from omegaconf import open_dict
from PIL import Image
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from lab2.cli import config_dir
from lab2.cli.common import write_metrics
from lab2.cli.evaluate import evaluate
from lab2.cli.predict import predict
from lab2.cli.train import train
from lab2.data.cells_mat import save_cell_mat
from lab2.data.digits import ShippedDigits
from lab2.data.idx import write_idx
from lab2.errors import InputError
from lab2.tasks.checkpoint import load_task

CLASSES = range(10)
STAGE_KEYS = (
    ["loss", "acc", "precision", "recall"]
    + [f"precision/{k}" for k in CLASSES]
    + [f"recall/{k}" for k in CLASSES]
)
FAILURE_NAME = re.compile(r"(\d)_mistaken_as_(\d)(_\d+)?\.png")


def make_config(run_dir, *overrides, name="train"):
    with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
        config = compose(name, overrides=["trainer.enable_progress_bar=false", *overrides])
    with open_dict(config):
        config.paths.output_dir = str(run_dir)
    return config


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """``lab2-train data=digits model=basic_cnn`` for a few batches: its run folder and
    metrics. A barely trained network, so there are plenty of mistakes to save."""
    run_dir = tmp_path_factory.mktemp("train")
    config = make_config(
        run_dir,
        "data=digits",
        "model=basic_cnn",
        "optim.epochs=1",
        "+trainer.limit_train_batches=3",
        "+trainer.limit_val_batches=1",
    )
    return run_dir, train(config)


@pytest.fixture(scope="module")
def checkpoint(trained):
    return trained[0] / "checkpoints" / "last.ckpt"


def failure_files(run_dir):
    return sorted(p for p in run_dir.glob("*.png") if FAILURE_NAME.fullmatch(p.name))


def test_metrics_json_has_every_class_for_every_stage(trained):
    run_dir, metrics = trained
    written = json.loads((run_dir / "metrics.json").read_text())
    expected = {f"{s}/{k}" for s in ("train", "val", "test") for k in STAGE_KEYS}
    assert set(written) == expected | {"model/params"}
    assert written == pytest.approx(metrics)
    assert written["model/params"] == 42_510
    assert written["test/acc"] == pytest.approx(written["test/recall"])  # 100 of each class


def test_per_class_table_matches_the_logged_metrics(trained):
    run_dir, metrics = trained
    rows = (run_dir / "per_class.csv").read_text().splitlines()
    assert rows[0] == "class,precision,recall,support"
    assert len(rows) == 11
    for line in rows[1:]:
        label, precision, recall, support = line.split(",")
        assert float(precision) == pytest.approx(metrics[f"test/precision/{label}"], abs=1e-5)
        assert float(recall) == pytest.approx(metrics[f"test/recall/{label}"], abs=1e-5)
        assert int(support) == 100  # 20% of 500 digits per class
    table = (run_dir / "per_class.md").read_text()
    assert all(f"\n| {k} | " in table for k in CLASSES)


def test_run_folder_holds_three_failure_cases_and_the_confusion_matrix(trained):
    run_dir, _ = trained
    with Image.open(run_dir / "confusion_matrix.png") as image:
        assert image.size[0] > 300
    assert (run_dir / "examples.png").is_file()  # Ex 2.10: a look at the training digits
    assert not (run_dir / "examples_augmented.png").exists()  # basic_cnn is not augmented
    failures = failure_files(run_dir)
    assert len(failures) == 3
    for path in failures:
        true_class, predicted, _ = FAILURE_NAME.fullmatch(path.name).groups()
        assert true_class != predicted
        with Image.open(path) as image:
            assert (image.mode, image.size) == ("L", (28, 28))
            pixels = np.asarray(image)
        assert (pixels.min(), pixels.max()) == (0, 255)  # stretched: the digit is plain to see


def test_tensorboard_holds_per_class_scalars_and_test_pictures(trained):
    run_dir, _ = trained
    # The folder, not one file: testing after fitting may open a second event file.
    folder = str(run_dir / "tensorboard")
    accumulator = EventAccumulator(folder, size_guidance={"images": 0, "scalars": 0})
    accumulator.Reload()
    tags = accumulator.Tags()
    for stage in ("train", "val", "test"):
        assert {f"{stage}/precision/{k}" for k in CLASSES} <= set(tags["scalars"])
        assert {f"{stage}/recall/{k}" for k in CLASSES} <= set(tags["scalars"])
    assert {"test/confusion_matrix", "test/failure_cases", "data/examples"} <= set(tags["images"])


def test_checkpoint_holds_plain_values_and_names_its_task(checkpoint):
    saved = torch.load(checkpoint, weights_only=True)
    assert saved["lab2_task"] == "lab2.tasks.classifier.ImageClassifier"
    assert saved["hyper_parameters"]["input_shape"] == [1, 28, 28]
    assert saved["hyper_parameters"]["optim"]["lr"] == 0.01
    assert saved["state_dict"]["model.zero_center.mean"].shape == (1, 28, 28)


def test_evaluate_reproduces_the_training_runs_test(trained, checkpoint, tmp_path):
    run_dir, trained_metrics = trained
    metrics = evaluate(make_config(tmp_path, f"ckpt_path={checkpoint}", name="evaluate"))
    for key in ("test/acc", "test/precision/3", "test/recall/7"):
        assert metrics[key] == pytest.approx(trained_metrics[key])
    assert (tmp_path / "metrics.json").is_file()
    assert (tmp_path / "per_class.md").read_text() == (run_dir / "per_class.md").read_text()
    assert (tmp_path / "confusion_matrix.png").is_file()
    names = [p.name for p in failure_files(tmp_path)]
    assert names == [p.name for p in failure_files(run_dir)]


def test_evaluate_on_mnist_files_needs_only_the_t10k_pair(checkpoint, tmp_path, trained):
    # The subset's test split, written as MNIST's t10k files: the same images, the same scores.
    data = ShippedDigits(seed=0)
    data.setup("test")
    x, t = data.sets["test"]
    folder = tmp_path / "mnist"
    folder.mkdir()
    write_idx(folder / "t10k-images-idx3-ubyte.gz", (x[:, 0] * 255).round().to(torch.uint8).numpy())
    write_idx(folder / "t10k-labels-idx1-ubyte", t.to(torch.uint8).numpy())
    config = make_config(
        tmp_path / "run",
        f"ckpt_path={checkpoint}",
        "data=mnist",
        f"data.path={folder}",
        "data.failure_cases=5",
        name="evaluate",
    )
    metrics = evaluate(config)
    assert metrics["test/acc"] == pytest.approx(trained[1]["test/acc"])
    assert len(failure_files(tmp_path / "run")) == 5


def test_evaluate_warns_when_the_digits_are_split_differently(checkpoint, tmp_path, caplog):
    config = make_config(tmp_path, f"ckpt_path={checkpoint}", "seed=4", name="evaluate")
    with caplog.at_level(logging.WARNING, logger="lab2.cli.evaluate"):
        evaluate(config)
    assert "split differently (seed: trained 0, now 4)" in caplog.text


@pytest.fixture(scope="module")
def part1_checkpoint(tmp_path_factory):
    """A Part 1 run's checkpoint (one epoch on the synthetic cells)."""
    run_dir = tmp_path_factory.mktemp("part1")
    train(make_config(run_dir, "trainer.max_epochs=1", "logger=none"))
    return run_dir / "checkpoints" / "last.ckpt"


def test_evaluate_takes_a_part1_checkpoint(tmp_path, part1_checkpoint):
    course_file = tmp_path / "cells.mat"
    rng = np.random.default_rng(0)
    save_cell_mat(course_file, rng.uniform(size=(12, 35, 35)), np.array([1, 0] * 6))
    config = make_config(
        tmp_path / "eval",
        f"ckpt_path={part1_checkpoint}",
        "data=cells_mat",
        f"data.path={course_file}",
        name="evaluate",
    )
    metrics = evaluate(config)
    assert {"test/acc", "test/precision", "test/recall", "test/loss"} <= set(metrics)
    assert json.loads((tmp_path / "eval" / "metrics.json").read_text()) == pytest.approx(metrics)


def test_evaluate_refuses_data_the_model_cannot_take(checkpoint, part1_checkpoint, tmp_path):
    config = make_config(tmp_path, f"ckpt_path={checkpoint}", "data=cells", name="evaluate")
    with pytest.raises(InputError, match=r"takes images of shape \[1, 28, 28\].* holds \[35, 35\]"):
        evaluate(config)
    config = make_config(tmp_path, f"ckpt_path={part1_checkpoint}", name="evaluate")  # digits
    with pytest.raises(InputError, match=r"cannot take the data's examples of shape \[1, 28, 28\]"):
        evaluate(config)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, r"ckpt_path: no such file: '.*missing.ckpt'"),
        (b"just some text", r"ckpt_path: .* is not a PyTorch checkpoint"),
        ({"state_dict": {}}, r"is not a lab2 checkpoint: it does not name its task"),
        ({"state_dict": {}, "lab2_task": "os.system"}, r"names task 'os.system', which is not"),
        ({"weights": torch.zeros(2)}, r"is not a Lightning checkpoint \(no state_dict\)"),
    ],
)
def test_bad_checkpoints_are_named(tmp_path, content, message):
    path = tmp_path / "missing.ckpt"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        torch.save(content, path)
    with pytest.raises(InputError, match=message):
        load_task(path)


def save_png(path, pixels):
    Image.fromarray(np.asarray(pixels, dtype=np.uint8)).save(path)


def test_predict_on_png_files_gives_the_networks_probabilities(checkpoint, tmp_path):
    data = ShippedDigits(seed=0)
    data.setup("test")
    digit = (data.sets["test"][0][0, 0] * 255).round()  # (28, 28), as MNIST stores it
    save_png(tmp_path / "a_digit.png", digit.numpy())
    photo = np.kron(255 - digit.numpy(), np.ones((4, 4)))  # dark ink on paper, 112x112
    save_png(tmp_path / "b_photo.png", photo)

    single = predict(str(checkpoint), str(tmp_path / "a_digit.png"))
    task, _ = load_task(checkpoint)
    expected = task.predict_proba((digit / 255)[None, None])[0]  # (10,)
    assert len(single) == 1
    assert single[0].probabilities == pytest.approx(expected.tolist(), abs=1e-6)
    assert single[0].label == int(expected.argmax())
    assert sum(single[0].probabilities) == pytest.approx(1.0)

    both = predict(str(checkpoint), str(tmp_path))
    assert [p.path.name for p in both] == ["a_digit.png", "b_photo.png"]
    assert all(len(p.probabilities) == 10 for p in both)
    assert re.fullmatch(
        r".*a_digit.png: \d \(p=0\.\d{3}\)  \[0:0\.\d{3} .* 9:0\.\d{3}\]", single[0].line()
    )


def test_predict_refuses_non_images_and_part1_checkpoints(checkpoint, part1_checkpoint, tmp_path):
    (tmp_path / "digit.png").write_text("not really a PNG")
    with pytest.raises(InputError, match=r"image: .*digit.png is not an image file"):
        predict(str(checkpoint), str(tmp_path / "digit.png"))
    with pytest.raises(InputError, match=r"holds a LinearTask; lab2-predict takes a Part 2"):
        predict(str(part1_checkpoint), str(tmp_path))


def run_command(name, *args, cwd):
    env = {**os.environ, "HYDRA_FULL_ERROR": "0"}
    command = [Path(sys.executable).parent / name, *args]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_predict_command_prints_one_line_per_image(checkpoint, tmp_path):
    save_png(tmp_path / "seven.png", np.zeros((28, 28)))
    run_dir = tmp_path / "run"
    result = run_command(
        "lab2-predict",
        f"ckpt_path={checkpoint}",
        f"image={tmp_path}",
        f"hydra.run.dir={run_dir}",
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert re.search(r"seven.png: \d \(p=", result.stdout)
    assert (run_dir / "predictions.csv").read_text().startswith("file,predicted,p0,")


def test_evaluate_command_reports_a_bad_checkpoint_in_one_line(tmp_path):
    run_dir = tmp_path / "run"
    result = run_command(
        "lab2-evaluate",
        f"ckpt_path={tmp_path / 'none.ckpt'}",
        f"hydra.run.dir={run_dir}",
        cwd=tmp_path,
    )
    assert result.returncode == 2
    assert "lab2-evaluate: error: ckpt_path: no such file" in result.stderr
    assert "Traceback" not in result.stderr
    assert not run_dir.exists()


def test_training_refuses_data_the_model_cannot_take(tmp_path):
    config = make_config(tmp_path, "model=basic_cnn")  # the Part 1 cells: 35x35, no channel
    with pytest.raises(InputError, match=r"takes images of shape \[1, 28, 28\].* holds \[35, 35\]"):
        train(config)
    assert not (tmp_path / "checkpoints").exists()


def test_training_stops_on_a_bad_idx_file_before_any_step(tmp_path):
    folder = tmp_path / "mnist"
    folder.mkdir()
    images = np.zeros((20, 28, 28), dtype=np.uint8)
    for split in ("train", "t10k"):
        write_idx(folder / f"{split}-images-idx3-ubyte", images)
        write_idx(folder / f"{split}-labels-idx1-ubyte", (np.arange(20) % 10).astype(np.uint8))
    cut = folder / "train-images-idx3-ubyte"
    cut.write_bytes(cut.read_bytes()[:-10])
    config = make_config(tmp_path / "run", "data=mnist", f"data.path={folder}", "model=basic_cnn")
    with pytest.raises(InputError, match=r"train-images-idx3-ubyte: truncated: the header gives"):
        train(config)
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_the_final_metrics_line_leaves_the_per_class_values_to_the_file(tmp_path, caplog):
    metrics = {"model/params": 42510.0, "test/acc": 0.97, "test/precision/3": 0.91}
    with caplog.at_level(logging.INFO, logger="lab2.cli.common"):
        write_metrics(tmp_path, metrics)
    assert "final metrics: model/params=42510, test/acc=0.9700\n" in caplog.text + "\n"
    assert json.loads((tmp_path / "metrics.json").read_text()) == metrics
