"""A run killed part-way resumes from its last checkpoint and ends as an uninterrupted run."""

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
    assert f"Restored all states from the checkpoint at {last}" in resumed.stderr.read()
    assert uninterrupted.wait(timeout=300) == 0, uninterrupted.stderr.read()[-3000:]

    final = torch.load(last, weights_only=True)
    assert final["epoch"] == 149  # 150 epochs, counted from 0
    expected = json.loads((whole / "metrics.json").read_text())
    assert json.loads((killed / "metrics.json").read_text()) == pytest.approx(expected, abs=1e-12)
