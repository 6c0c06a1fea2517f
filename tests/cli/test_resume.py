"""A run killed part-way resumes from its last checkpoint and ends as an uninterrupted run; a
checkpoint file resumes a run in another folder."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

LAB2_TRAIN = Path(sys.executable).parent / "lab2-train"
RUN = [
    "trainer.max_epochs=150",
    "seed=3",
    "model.init_scale=0.001",
    "optim.lr=0.01",
    "trainer.enable_progress_bar=false",
]


def lab2_train(*args, **kwargs):
    env = {**os.environ, "HYDRA_FULL_ERROR": "1"}
    return subprocess.Popen(
        [LAB2_TRAIN, *args], env=env, stderr=subprocess.PIPE, text=True, **kwargs
    )


def checkpoint_epoch(path: Path) -> int:
    try:
        return torch.load(path, weights_only=True)["epoch"]
    except (FileNotFoundError, RuntimeError, EOFError):  # not written yet, or being replaced
        return -1


@pytest.mark.slow
def test_sigkilled_run_resumes_to_the_uninterrupted_result(tmp_path):
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    uninterrupted = lab2_train(*RUN, f"hydra.run.dir={whole}")

    # Start the same run and kill it without warning once a few epochs are checkpointed.
    victim = lab2_train(*RUN, f"hydra.run.dir={killed}")
    last = killed / "checkpoints" / "last.ckpt"
    deadline = time.monotonic() + 240
    while checkpoint_epoch(last) < 20:
        assert victim.poll() is None, "the run ended before it could be killed"
        assert time.monotonic() < deadline, "no checkpoint appeared"
        time.sleep(0.05)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    stopped_at = checkpoint_epoch(last)
    assert 20 <= stopped_at < 149
    assert not (killed / "metrics.json").exists()

    resumed = lab2_train(*RUN, f"hydra.run.dir={killed}", "ckpt_path=last")
    assert resumed.wait(timeout=300) == 0, resumed.stderr.read()[-3000:]
    # It went on from the checkpoint; a fresh start would reach the same end, as it is seeded.
    # (Lightning's message is in the run's log file, which both runs in the folder append to.)
    log = (killed / "train.log").read_text()
    assert f"Restored all states from the checkpoint at {last}" in log
    assert uninterrupted.wait(timeout=300) == 0, uninterrupted.stderr.read()[-3000:]

    final = torch.load(last, weights_only=True)
    assert final["epoch"] == 149  # 150 epochs, counted from 0
    expected = json.loads((whole / "metrics.json").read_text())
    assert json.loads((killed / "metrics.json").read_text()) == pytest.approx(expected, abs=1e-12)


def test_a_checkpoint_file_resumes_a_run_in_a_new_folder(compose_config, tmp_path):
    # ckpt_path=<file>: the first 4 epochs' checkpoint, resumed to 8 in another run folder, ends
    # as 8 epochs in one go.
    from lab2.cli.train import train

    def run(folder, epochs, *extra):
        config = compose_config("seed=3", f"trainer.max_epochs={epochs}", "logger=none", *extra)
        config.paths.output_dir = str(tmp_path / folder)
        return train(config)

    whole = run("whole", 8)
    run("first", 4)
    first = tmp_path / "first" / "checkpoints" / "last.ckpt"
    assert torch.load(first, weights_only=True)["epoch"] == 3
    timing = tmp_path / "timing.json"
    resumed = run(
        "resumed",
        8,
        f"ckpt_path={first}",
        "+callbacks.timer._target_=lab2.bench.timing.FitTimer",
        f"+callbacks.timer.path={timing}",
    )

    final = torch.load(tmp_path / "resumed" / "checkpoints" / "last.ckpt", weights_only=True)
    assert final["epoch"] == 7
    assert len(json.loads(timing.read_text())["epoch_s"]) == 4  # it trained epochs 4-7 only
    assert resumed == pytest.approx(whole, rel=1e-12)
