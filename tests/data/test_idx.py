import gzip

import numpy as np
import pytest

from lab2.data.idx import find_mnist_pair, read_idx, read_mnist_pair, write_idx
from lab2.errors import InputError

IMAGES, LABELS = "train-images-idx3-ubyte", "train-labels-idx1-ubyte"


def digits(n=5, seed=0):
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
    return images, (np.arange(n) % 10).astype(np.uint8)


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_reads_back_what_it_writes_raw_and_gzip(tmp_path, suffix):
    images, labels = digits()
    write_idx(tmp_path / f"images{suffix}", images)
    write_idx(tmp_path / f"labels{suffix}", labels)
    read_images, read_labels = read_mnist_pair(
        tmp_path / f"images{suffix}", tmp_path / f"labels{suffix}"
    )
    np.testing.assert_array_equal(read_images, images)
    np.testing.assert_array_equal(read_labels, labels)
    assert read_labels.dtype == np.int64


def test_header_is_the_standard_one(tmp_path):
    # Written by hand from the format: magic 0x00000803, then 3 big-endian sizes, then pixels.
    header = bytes([0, 0, 8, 3]) + (2).to_bytes(4, "big") + (28).to_bytes(4, "big") * 2
    pixels = bytes(range(256)) * 6 + bytes(2 * 784 - 6 * 256)
    (tmp_path / "by_hand").write_bytes(header + pixels)
    images = read_idx(tmp_path / "by_hand", ndim=3)
    assert images.shape == (2, 28, 28)
    assert images[0, 0, :3].tolist() == [0, 1, 2]
    write_idx(tmp_path / "ours", images)
    assert (tmp_path / "ours").read_bytes() == header + pixels


def test_gzip_is_recognised_by_content_not_name(tmp_path):
    images, _ = digits()
    write_idx(tmp_path / "images.gz", images)
    (tmp_path / "images.gz").rename(tmp_path / "images")
    np.testing.assert_array_equal(read_idx(tmp_path / "images", ndim=3), images)


def test_wrong_magic_number_is_named(tmp_path):
    _, labels = digits()
    write_idx(tmp_path / "labels", labels)
    with pytest.raises(InputError, match=r"labels: magic number 0x00000801, expected 0x00000803"):
        read_idx(tmp_path / "labels", ndim=3)
    (tmp_path / "text").write_text("hello, not an IDX file")
    with pytest.raises(InputError, match=r"text: magic number 0x68656c6c, expected 0x00000801"):
        read_idx(tmp_path / "text", ndim=1)


@pytest.mark.parametrize("suffix", ["", ".gz"])
def test_truncated_data_is_named(tmp_path, suffix):
    images, _ = digits(n=3)
    write_idx(tmp_path / "full", images)
    content = (tmp_path / "full").read_bytes()[:-100]
    if suffix:
        content = gzip.compress(content)
    (tmp_path / f"cut{suffix}").write_bytes(content)
    with pytest.raises(
        InputError,
        match=r"truncated: the header gives shape \(3, 28, 28\), which "
        r"needs 2352 bytes of data, but the file holds 2252",
    ):
        read_idx(tmp_path / f"cut{suffix}", ndim=3)


def test_truncated_header_and_trailing_bytes_are_named(tmp_path):
    (tmp_path / "short").write_bytes(bytes([0, 0, 8, 3, 0, 0]))
    with pytest.raises(InputError, match=r"short: truncated header: 6 bytes, expected 16"):
        read_idx(tmp_path / "short", ndim=3)
    _, labels = digits()
    write_idx(tmp_path / "labels", labels)
    (tmp_path / "long").write_bytes((tmp_path / "labels").read_bytes() + b"\x00")
    with pytest.raises(InputError, match=r"longer than its header says.*needs 5 bytes.*holds 6"):
        read_idx(tmp_path / "long", ndim=1)


def test_cut_gzip_stream_is_named(tmp_path):
    images, _ = digits()
    write_idx(tmp_path / "images.gz", images)
    content = (tmp_path / "images.gz").read_bytes()
    (tmp_path / "images.gz").write_bytes(content[: len(content) // 2])
    with pytest.raises(InputError, match=r"images.gz: a damaged or truncated gzip file"):
        read_idx(tmp_path / "images.gz", ndim=3)


def test_counts_that_disagree_are_named(tmp_path):
    images, labels = digits(n=5)
    write_idx(tmp_path / "images", images)
    write_idx(tmp_path / "labels", labels[:4])
    with pytest.raises(InputError, match=r"images holds 5 images but .*labels holds 4 labels"):
        read_mnist_pair(tmp_path / "images", tmp_path / "labels")


def test_labels_outside_the_classes_are_named(tmp_path):
    images, labels = digits(n=5)
    labels[2] = 12
    write_idx(tmp_path / "images", images)
    write_idx(tmp_path / "labels", labels)
    with pytest.raises(InputError, match=r"labels must be 0-9, found 12"):
        read_mnist_pair(tmp_path / "images", tmp_path / "labels")


def test_missing_file_and_folder_are_named(tmp_path):
    with pytest.raises(InputError, match=r"nothing.gz: no such file"):
        read_idx(tmp_path / "nothing.gz", ndim=1)
    with pytest.raises(InputError, match=r"data.path: no such folder: '.*elsewhere'"):
        find_mnist_pair(tmp_path / "elsewhere", "t10k")
    write_idx(tmp_path / f"{IMAGES}.gz", digits()[0])
    with pytest.raises(
        InputError, match=rf"has no {LABELS} \(raw or .gz\); found \['{IMAGES}.gz'\]"
    ):
        find_mnist_pair(tmp_path, "train")


def test_finds_raw_gzip_and_dotted_names(tmp_path):
    images, labels = digits()
    write_idx(tmp_path / f"{IMAGES}.gz", images)
    write_idx(tmp_path / "train-labels.idx1-ubyte", labels)
    assert find_mnist_pair(tmp_path, "train") == (
        tmp_path / f"{IMAGES}.gz",
        tmp_path / "train-labels.idx1-ubyte",
    )
