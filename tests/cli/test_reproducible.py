"""seed=K with deterministic algorithms gives the same metrics.json twice on the CPU."""

import json

from lab2.cli.train import train

DIGITS = [
    "data=digits",
    "model=basic_cnn",
    "trainer.max_epochs=1",
    "trainer.limit_train_batches=4",
    "trainer.limit_val_batches=2",
    "trainer.limit_test_batches=2",
    "trainer.deterministic=true",
    "logger=none",
]


def metrics_json(compose_config, tmp_path, *overrides):
    config = compose_config(*overrides)
    config.paths.output_dir = str(tmp_path)
    train(config)
    return json.loads((tmp_path / "metrics.json").read_text())


def test_same_seed_same_metrics_json_and_zero_is_a_seed(compose_config, tmp_path):
    first = metrics_json(compose_config, tmp_path / "a", *DIGITS, "seed=0")
    second = metrics_json(compose_config, tmp_path / "b", *DIGITS, "seed=0")
    other = metrics_json(compose_config, tmp_path / "c", *DIGITS, "seed=1")
    assert first == second  # exactly, key for key
    assert first["val/loss"] != other["val/loss"]  # seed=0 seeds; it is not "no seed"


def test_seed_null_draws_a_seed_and_records_it(compose_config, tmp_path):
    config = compose_config("seed=null", "trainer.max_epochs=1", "logger=none")
    config.paths.output_dir = str(tmp_path)
    train(config)
    assert isinstance(config.seed, int)
