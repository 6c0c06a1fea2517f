import pytest
import torch

from lab2.data.split import split_indices
from lab2.errors import InputError


def test_sizes_and_disjoint_cover():
    parts = split_indices(400, {"val": 0.2}, seed=0)
    assert [len(parts["train"]), len(parts["val"])] == [320, 80]
    everything = torch.cat([parts["train"], parts["val"]]).sort().values
    assert torch.equal(everything, torch.arange(400))


def test_seeded():
    a = split_indices(50, {"val": 0.2}, seed=4)
    b = split_indices(50, {"val": 0.2}, seed=4)
    c = split_indices(50, {"val": 0.2}, seed=5)
    assert torch.equal(a["val"], b["val"])
    assert not torch.equal(a["val"], c["val"])


def test_stratified_keeps_class_shares():
    labels = torch.arange(10).repeat_interleave(50)  # 10 classes x 50
    parts = split_indices(500, {"val": 0.1, "test": 0.2}, seed=0, labels=labels)
    for name, per_class in [("val", 5), ("test", 10), ("train", 35)]:
        counts = torch.bincount(labels[parts[name]], minlength=10)
        assert counts.tolist() == [per_class] * 10


def test_training_order_is_not_class_sorted():
    labels = torch.tensor([1] * 50 + [0] * 50)
    parts = split_indices(100, {"val": 0.2}, seed=0, labels=labels)
    first_half = labels[parts["train"][:40]]
    assert 0 < first_half.sum() < 40


def test_empty_validation_set_is_an_error():
    with pytest.raises(InputError, match=r"leaves the 'val' set empty: data.val_fraction"):
        split_indices(10, {"val": 0.01}, seed=0)


def test_empty_training_set_is_an_error():
    with pytest.raises(InputError, match=r"add up to 1; they must leave some data for training"):
        split_indices(10, {"val": 0.5, "test": 0.5}, seed=0)


def test_class_missing_from_a_part_is_an_error():
    labels = torch.tensor([0] * 20 + [1] * 2)
    with pytest.raises(InputError, match=r"leaves class\(es\) \[1\] out of the 'val' set"):
        split_indices(22, {"val": 0.2}, seed=0, labels=labels)


@pytest.mark.parametrize("fraction", [-0.1, 1.0, 1.5, "a lot", None])
def test_fraction_out_of_range(fraction):
    with pytest.raises(InputError, match=r"data.val_fraction must be a number in \[0, 1\)"):
        split_indices(10, {"val": fraction}, seed=0)
