"""``lab2-bench`` end to end, as the installed command, on a few epochs."""

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REQUIRED = (
    "part1_examples_per_s",
    "numpy_examples_per_s",
    "part2_fit_s_per_epoch",
    "bare_s_per_epoch",
    "lightning_s_per_epoch",
    "part1_peak_rss_mb",
    "numpy_peak_rss_mb",
    "part2_fit_peak_rss_mb",
    "lightning_peak_rss_mb",
    "bare_peak_rss_mb",
    "part2_fit_train_steps_s",
    "bare_train_steps_s",
    "lightning_train_steps_s",
)


def lab2_bench(*overrides: str) -> subprocess.CompletedProcess:
    command = shutil.which("lab2-bench", path=str(Path(sys.executable).parent))
    return subprocess.run([command, *overrides], capture_output=True, text=True, timeout=300)


def test_bench_writes_both_parts_side_by_side(tmp_path):
    done = lab2_bench(
        f"hydra.run.dir={tmp_path}",
        "part1.epochs=3",
        "part2.epochs=2",
        "part2.overrides=['trainer.limit_train_batches=2','logger=none']",
        "parts=[1,2]",
    )
    assert done.returncode == 0, done.stderr[-3000:]

    results = json.loads((tmp_path / "bench.json").read_text())
    for key in REQUIRED:
        assert isinstance(results[key], float), key
        assert results[key] > 0, key
    assert results["part1_same_w"] is True
    assert results["part1_max_w_difference"] < 1e-12
    assert results["part1_epochs"] == 3
    assert results["part2_epochs"] == 2
    assert (
        results["part1_ratio"] == results["part1_examples_per_s"] / results["numpy_examples_per_s"]
    )
    table = (tmp_path / "bench.md").read_text()
    assert "| NumPy, the lab's loop" in table
    assert "| bare PyTorch loop |" in table
    assert "| the same work through a Lightning Trainer alone |" in table
    # Each leg's epoch is its training steps, its validation and the rest.
    for leg in ("part2_fit", "lightning", "bare"):
        assert results[f"{leg}_val_s"] > 0, leg
        assert results[f"{leg}_train_steps_s"] < results[f"{leg}_s_per_epoch"] * 1.5, leg
    assert results["part2_fit_train_steps_s"] < results["lightning_train_steps_s"]  # 2 batches
    assert 0.5 < results["lightning_val_acc"] <= 1  # it trained: the same steps as the bare loop
    assert "Same final w: true" in table
    assert table in done.stdout


def test_bench_refuses_part1_overrides_that_are_not_per_example(tmp_path):
    done = lab2_bench(
        f"hydra.run.dir={tmp_path}", "parts=[1]", "part1.overrides=['data.batch_size=4']"
    )
    assert done.returncode == 2
    assert "data.batch_size=1" in done.stderr
    assert "got data.batch_size=4" in done.stderr
    assert not (tmp_path / "bench.json").exists()


def test_bench_refuses_unknown_parts(tmp_path):
    done = lab2_bench(f"hydra.run.dir={tmp_path}", "parts=[4]")
    assert done.returncode == 2
    assert "parts must list some of 1, 2 and 3, got [4]" in done.stderr


@pytest.mark.slow
def test_bench_times_a_joblib_sweep_against_its_jobs_in_turn(tmp_path):
    done = lab2_bench(
        f"hydra.run.dir={tmp_path}",
        "parts=[3]",
        "part3.repeats=1",
        "part3.overrides=['trainer.max_epochs=1','data.n_foreground=40','data.n_background=40']",
    )
    assert done.returncode == 0, done.stderr[-3000:]
    results = json.loads((tmp_path / "bench.json").read_text())
    for key in ("sweep_joblib_s", "sweep_one_after_another_s", "sweep_basic_s"):
        assert results[key] > 0, key
    assert results["sweep_joblib_ratio"] == pytest.approx(
        results["sweep_joblib_s"] / results["sweep_one_after_another_s"]
    )
    # Every job of every way ran and left its metrics.
    assert len(list(tmp_path.glob("part3/0/*/metrics.json"))) == 2
    assert len(list(tmp_path.glob("part3/0/joblib/*/metrics.json"))) == 2
    assert len(list(tmp_path.glob("part3/0/basic/*/metrics.json"))) == 2
    assert "| `lab2-train -m hydra/launcher=joblib` |" in (tmp_path / "bench.md").read_text()
