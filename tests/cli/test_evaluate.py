"""``lab2-evaluate`` on a training run's ``last.ckpt`` gives that run's final ``val/`` and
``test/`` metrics exactly, for Part 1 and Part 2."""

import json

import pytest
import torch
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

from lab2.cli.evaluate import evaluate
from lab2.cli.train import train

EPOCHS = 2
# The data settings both commands share. A seed other than evaluate's default 0, so that the
# split must come from the setting, not by chance.
PART1_DATA = ["data=cells", "seed=3"]
PART2_DATA = ["data=digits", "seed=3"]
RUNS = {  # data, training settings, the stages the training run scores
    # The float64 linear classifier on the synthetic cells, on its per-example fast path; the
    # cells hold out no test set.
    "part1": (PART1_DATA, ["model=linear"], {"val"}),
    # A barely trained CNN: a few batches per epoch keep it quick.
    "part2": (PART2_DATA, ["model=basic_cnn", "trainer.limit_train_batches=3"], {"val", "test"}),
    # Batch norm's running statistics and a one-cycle schedule's state travel in the checkpoint.
    "part2_better": (
        PART2_DATA,
        ["model=better_cnn", "trainer.limit_train_batches=3"],
        {"val", "test"},
    ),
}


def read_json(path):
    return json.loads(path.read_text())


def val_losses(run_dir):
    accumulator = EventAccumulator(str(run_dir / "tensorboard"), size_guidance={"scalars": 0})
    accumulator.Reload()
    return [event.value for event in accumulator.Scalars("val/loss")]


@pytest.mark.parametrize("part", sorted(RUNS))
def test_evaluating_last_ckpt_repeats_the_runs_final_val_and_test_metrics(
    compose_config, tmp_path, part
):
    data, training, stages = RUNS[part]
    train_dir, eval_dir = tmp_path / "train", tmp_path / "evaluate"
    config = compose_config(*data, *training, f"trainer.max_epochs={EPOCHS}")
    config.paths.output_dir = str(train_dir)
    train(config)

    # last.ckpt holds the last epoch's weights, and the last epoch's validation scored other
    # weights than the epoch before: only the final weights can give the final metrics.
    checkpoint = train_dir / "checkpoints" / "last.ckpt"
    assert torch.load(checkpoint, weights_only=True)["epoch"] == EPOCHS - 1
    losses = val_losses(train_dir)
    assert len(losses) == EPOCHS
    assert losses[-1] != losses[-2]

    config = compose_config(*data, f"ckpt_path={checkpoint}", config_name="evaluate")
    config.paths.output_dir = str(eval_dir)
    returned = evaluate(config)

    trained, evaluated = read_json(train_dir / "metrics.json"), read_json(eval_dir / "metrics.json")
    keys = sorted(k for k in trained if k.startswith(("val/", "test/")))
    assert {k.split("/")[0] for k in keys} == stages
    assert {k: evaluated.get(k) for k in keys} == {k: trained[k] for k in keys}  # exactly
    assert evaluated == returned
    assert "test/acc" in evaluated  # Part 1: every patch of the data is a test patch
