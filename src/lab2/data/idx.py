"""Reading and writing MNIST's IDX files, raw or gzip-compressed.

An IDX file is a header and raw bytes (LeCun et al., "THE MNIST DATABASE of handwritten digits"):
a 4-byte magic number, ``0x00 0x00 <type> <ndim>``, then ``ndim`` big-endian 32-bit sizes, then
the values in row-major order. MNIST's files hold unsigned bytes (type ``0x08``): the images file
``(N, 28, 28)`` (magic ``0x00000803``, a 16-byte header) and the labels file ``(N,)`` (magic
``0x00000801``, an 8-byte header).

Every check names the file, what was expected and what was found: a file that is missing, a
damaged or truncated gzip stream, a wrong magic number, a header or data shorter (or longer) than
the header says, labels outside 0-9, image and label counts that disagree.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path

import numpy as np

from lab2.errors import InputError

UNSIGNED_BYTE = 0x08  # the IDX type code of MNIST's values
IMAGES_MAGIC = 0x00000803  # unsigned bytes, 3 dimensions: (N, rows, cols)
LABELS_MAGIC = 0x00000801  # unsigned bytes, 1 dimension: (N,)
_GZIP_MAGIC = b"\x1f\x8b"  # an IDX file starts with two zero bytes, so the two never clash

# The standard names of the two pairs; some copies spell "-idx" as ".idx".
MNIST_FILES = {
    "train": ("train-images-idx3-ubyte", "train-labels-idx1-ubyte"),
    "t10k": ("t10k-images-idx3-ubyte", "t10k-labels-idx1-ubyte"),
}


def read_idx(path: str | Path, ndim: int) -> np.ndarray:
    """Reads an IDX file of unsigned bytes with ``ndim`` dimensions.

    Args:
        path: the file, raw or gzip-compressed (recognised by its content, not its name).
        ndim: the number of dimensions the file must have (3 for images, 1 for labels).

    Returns:
        A ``uint8`` array of the shape the header gives.

    Raises:
        InputError: the file is missing, is a damaged gzip stream, has another magic number, or
            holds fewer or more bytes than its header says.

    Example:
        >>> import tempfile
        >>> with tempfile.TemporaryDirectory() as folder:
        ...     write_idx(Path(folder) / "labels.gz", np.array([7, 2, 1], dtype=np.uint8))
        ...     read_idx(Path(folder) / "labels.gz", ndim=1).tolist()
        [7, 2, 1]
    """
    path = Path(path)
    data = _read_bytes(path)
    expected = (UNSIGNED_BYTE << 8) | ndim
    header_size = 4 + 4 * ndim
    if len(data) < 4:
        raise InputError(
            f"{path}: {len(data)} bytes is too short for an IDX file "
            f"(expected a {header_size}-byte header, magic number 0x{expected:08x})"
        )
    magic = int.from_bytes(data[:4], "big")
    if magic != expected:
        raise InputError(
            f"{path}: magic number 0x{magic:08x}, expected 0x{expected:08x} "
            f"(unsigned bytes in {ndim} dimension{'s' if ndim > 1 else ''}); "
            "is it the right file of the pair, and an IDX file at all?"
        )
    if len(data) < header_size:
        raise InputError(
            f"{path}: truncated header: {len(data)} bytes, expected {header_size} "
            f"(the magic number and {ndim} sizes)"
        )

    shape = tuple(int.from_bytes(data[4 + 4 * k : 8 + 4 * k], "big") for k in range(ndim))
    needed, found = int(np.prod(shape)), len(data) - header_size
    if found != needed:
        state = "truncated" if found < needed else "longer than its header says"
        raise InputError(
            f"{path}: {state}: the header gives shape {shape}, which needs {needed} bytes of "
            f"data, but the file holds {found}"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header_size).reshape(shape).copy()


def write_idx(path: str | Path, array: np.ndarray) -> None:
    """Writes ``array`` (unsigned bytes) as an IDX file; a name ending in ``.gz`` is
    gzip-compressed. The inverse of :func:`read_idx`, for tests and for making small MNIST-format
    data sets."""
    array = np.ascontiguousarray(array)
    if array.dtype != np.uint8:
        raise InputError(f"write_idx: expected an array of uint8, got {array.dtype}")
    header = bytes([0, 0, UNSIGNED_BYTE, array.ndim])
    header += b"".join(int(size).to_bytes(4, "big") for size in array.shape)
    content = header + array.tobytes()
    if str(path).endswith(".gz"):
        content = gzip.compress(content)
    Path(path).write_bytes(content)


def read_mnist_pair(
    images_path: str | Path, labels_path: str | Path, num_classes: int = 10
) -> tuple[np.ndarray, np.ndarray]:
    """Reads one MNIST pair: images and their labels, checked against each other.

    Returns:
        ``(N, rows, cols)`` ``uint8`` images and ``(N,)`` int64 labels.

    Raises:
        InputError: either file is bad (see :func:`read_idx`), the counts disagree, or a label
            is not one of ``0 .. num_classes - 1``.
    """
    images = read_idx(images_path, ndim=3)
    labels = read_idx(labels_path, ndim=1)
    if len(images) != len(labels):
        raise InputError(
            f"{images_path} holds {len(images)} images but {labels_path} holds {len(labels)} "
            "labels; the two files of a pair must have one label per image"
        )
    if len(labels) == 0:
        raise InputError(f"{labels_path}: holds no labels (expected at least one example)")
    if labels.max() >= num_classes:
        raise InputError(
            f"{labels_path}: labels must be 0-{num_classes - 1}, found {int(labels.max())}"
        )
    return images, labels.astype(np.int64)


def find_mnist_pair(folder: str | Path, split: str) -> tuple[Path, Path]:
    """The images and labels files of ``split`` (``"train"`` or ``"t10k"``) in ``folder``.

    Each file may be raw or ``.gz``, and spelt ``-idx`` or ``.idx``.

    Raises:
        InputError: the folder or a file is missing.
    """
    folder = Path(folder).expanduser()
    if not folder.is_dir():
        raise InputError(f"data.path: no such folder: {str(folder)!r} (expected MNIST's files)")
    found = []
    for stem in MNIST_FILES[split]:
        names = [stem, stem.replace("-idx", ".idx")]
        candidates = [folder / f"{name}{ext}" for name in names for ext in ("", ".gz")]
        existing = [path for path in candidates if path.is_file()]
        if not existing:
            present = sorted(p.name for p in folder.iterdir())[:10]
            raise InputError(
                f"data.path: {folder} has no {stem} (raw or .gz); found {present or 'nothing'}"
            )
        found.append(existing[0])
    return found[0], found[1]


def _read_bytes(path: Path) -> bytes:
    if not path.is_file():
        raise InputError(f"{path}: no such file")
    data = path.read_bytes()
    if not data.startswith(_GZIP_MAGIC):
        return data
    try:
        return gzip.decompress(data)
    except (EOFError, OSError, zlib.error) as error:  # truncated, or not gzip after all
        raise InputError(f"{path}: a damaged or truncated gzip file ({error})") from error
