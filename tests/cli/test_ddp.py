"""Two DDP processes (gloo, on the CPU) train and validate as one process with their combined
batch does."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

COMMON = [
    "data=digits",
    "model=basic_cnn",
    "trainer.max_epochs=1",
    "trainer.limit_train_batches=5",
    "trainer.accelerator=cpu",
    "trainer.enable_progress_bar=false",
    "logger=none",
]


def run(run_dir: Path, *overrides: str) -> dict[str, float]:
    command = [Path(sys.executable).parent / "lab2-train", *COMMON, *overrides]
    env = {**os.environ, "HYDRA_FULL_ERROR": "1"}
    result = subprocess.run(
        [*command, f"hydra.run.dir={run_dir}"], capture_output=True, text=True, env=env
    )
    assert result.returncode == 0, result.stderr[-3000:]
    return json.loads((run_dir / "metrics.json").read_text())


@pytest.mark.slow
def test_two_processes_match_one_process_with_their_combined_batch(tmp_path):
    # Rank r takes every second example of each epoch's order, so batch k of the two ranks
    # together is batch k of one process with twice the batch size.
    one = run(tmp_path / "one", "data.batch_size=64")
    two = run(tmp_path / "two", "trainer=ddp", "trainer.devices=2", "data.batch_size=32")

    assert one.keys() == two.keys()
    per_class = [k for k in one if "/precision/" in k or "/recall/" in k]
    assert len(per_class) == 3 * 2 * 10  # train, val, test; precision, recall; 10 classes
    for key in one:
        # Counts-based metrics come out the same; losses up to the order of float sums.
        assert two[key] == pytest.approx(one[key], rel=1e-4, abs=1e-6), key
