import logging

import numpy as np
import pytest
import torch

from lab2.data.cells_mat import save_cell_mat
from lab2.data.patches import CourseCells, SyntheticCells
from lab2.errors import InputError


def test_synthetic_split_sizes_are_logged(caplog):
    data = SyntheticCells(n_foreground=50, n_background=50, val_fraction=0.2)
    with caplog.at_level(logging.INFO, logger="lab2"):
        data.setup("fit")
    assert len(data.sets["train"][0]) == 80
    assert len(data.sets["val"][0]) == 20
    assert "train set: 80 patches" in caplog.text
    assert "val set: 20 patches" in caplog.text


def test_rotations_go_to_training_only():
    plain = SyntheticCells(n_foreground=20, n_background=20, seed=1)
    rotated = SyntheticCells(n_foreground=20, n_background=20, seed=1, rotations=3)
    plain.setup("fit")
    rotated.setup("fit")
    assert len(rotated.sets["train"][0]) == 4 * len(plain.sets["train"][0])
    assert torch.equal(rotated.sets["val"][0], plain.sets["val"][0])


def test_seed_draws_the_split_not_the_data():
    a, b = SyntheticCells(seed=0), SyntheticCells(seed=1)
    a.setup("fit")
    b.setup("fit")
    assert not torch.equal(a.sets["val"][0], b.sets["val"][0])
    all_a = torch.cat([a.sets["train"][0], a.sets["val"][0]]).sum()
    all_b = torch.cat([b.sets["train"][0], b.sets["val"][0]]).sum()
    torch.testing.assert_close(all_a, all_b)


def test_test_stage_uses_every_patch(tmp_path):
    rng = np.random.default_rng(0)
    save_cell_mat(tmp_path / "c.mat", rng.uniform(size=(7, 35, 35)), np.array([1, 0] * 3 + [1]))
    data = CourseCells(path=str(tmp_path / "c.mat"))
    data.setup("test")
    assert len(data.sets["test"][0]) == 7


def test_fixed_order_loader_visits_the_same_order_every_epoch():
    data = SyntheticCells(n_foreground=10, n_background=10, shuffle=False)
    data.setup("fit")
    loader = data.train_dataloader()
    orders = []
    for epoch in range(3):
        loader.sampler.set_epoch(epoch)
        orders.append(torch.cat([x.flatten(1) for x, _ in loader]))
    assert torch.equal(orders[0], orders[1])
    assert torch.equal(orders[1], orders[2])


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rotations": -1}, r"data.rotations must be a whole number >= 0, got -1"),
        ({"batch_size": 0}, r"data.batch_size must be a whole number >= 1, got 0"),
        ({"eval_batch_size": 2.5}, r"data.eval_batch_size must be a whole number >= 1, got 2.5"),
        ({"shuffle": "yes"}, r"data.shuffle must be true or false, got 'yes'"),
    ],
)
def test_bad_settings_are_named(kwargs, message):
    with pytest.raises(InputError, match=message):
        SyntheticCells(**kwargs)


def test_course_cells_needs_a_path():
    with pytest.raises(InputError, match=r"data.path: give the course's .mat file"):
        CourseCells()


def test_validation_set_left_empty_is_an_error():
    data = SyntheticCells(n_foreground=2, n_background=2, val_fraction=0.1)
    with pytest.raises(InputError, match=r"'val' set empty"):
        data.setup("fit")
