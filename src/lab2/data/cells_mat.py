"""Reading and writing the course's patch file, ``cell_data.mat``.

The file holds one MATLAB struct, ``cell_data``, with two fields, ``fg_patches`` and
``bg_patches``, each a 1xN cell array of 35x35 double images (LAB2.md, Part 1). Foreground
patches are centred on a cell (label 1), background patches are not (label 0).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import scipy.io

from lab2.errors import InputError

STRUCT = "cell_data"
FIELDS = {"fg_patches": 1, "bg_patches": 0}  # field -> label


def load_cell_mat(path: str | Path, patch_size: int = 35) -> tuple[np.ndarray, np.ndarray]:
    """Loads the course's patches and their labels.

    Args:
        path: a ``.mat`` file (MATLAB v4 to v7.2) with the struct ``cell_data``.
        patch_size: the expected height and width of every patch.

    Returns:
        ``(patches, labels)``: ``(N, patch_size, patch_size)`` float64 patches, foreground
        first, and ``(N,)`` int64 labels (1 = cell, 0 = background).

    Raises:
        InputError: the file is missing or unreadable, lacks ``cell_data`` or one of its fields,
            or holds patches of the wrong size, of unequal sizes, or with NaN or infinite values.
    """
    path = Path(path)
    if not path.is_file():
        raise InputError(
            f"data.path: no such file: {str(path)!r} (expected the course's .mat file)"
        )
    struct = _read_struct(path)

    patches, labels = [], []
    for field, label in FIELDS.items():
        if field not in struct.dtype.names:
            raise InputError(
                f"{path}: struct {STRUCT!r} has no field {field!r} "
                f"(expected fields {sorted(FIELDS)}, found {sorted(struct.dtype.names)})"
            )
        images = _field_images(path, field, struct[field][0, 0], patch_size)
        patches.extend(images)
        labels.extend([label] * len(images))

    return np.stack(patches), np.asarray(labels, dtype=np.int64)


def save_cell_mat(path: str | Path, patches: np.ndarray, labels: np.ndarray) -> None:
    """Writes patches and labels in the course's format (the inverse of :func:`load_cell_mat`).

    Useful to hand the synthetic data to the original MATLAB lab, and in tests.
    """
    fields = {}
    for field, label in FIELDS.items():
        selected = [np.asarray(p, dtype=np.float64) for p in patches[labels == label]]
        cells = np.empty((1, len(selected)), dtype=object)  # a MATLAB 1xN cell array
        for i, patch in enumerate(selected):
            cells[0, i] = patch
        fields[field] = cells
    scipy.io.savemat(str(path), {STRUCT: fields})


def _read_struct(path: Path) -> np.ndarray:
    try:
        contents = scipy.io.loadmat(str(path))
    except NotImplementedError as error:  # scipy's message for HDF5-based files
        raise InputError(
            f"{path}: MATLAB v7.3 (HDF5) files cannot be read; "
            f"re-save it in MATLAB with save(..., '-v7')"
        ) from error
    except Exception as error:  # scipy raises many types on files it cannot parse
        raise InputError(f"{path}: not a readable MATLAB .mat file ({error})") from error

    found = sorted(k for k in contents if not k.startswith("__"))
    if STRUCT not in contents:
        raise InputError(f"{path}: expected a variable {STRUCT!r}, found {found or 'none'}")
    struct = contents[STRUCT]
    if struct.dtype.names is None or struct.shape != (1, 1):
        raise InputError(
            f"{path}: {STRUCT!r} must be a 1x1 struct with fields {sorted(FIELDS)}, "
            f"found a {struct.dtype} array of shape {struct.shape}"
        )
    return struct


def _field_images(path: Path, field: str, cells: np.ndarray, patch_size: int) -> list[np.ndarray]:
    where = f"{path}: {STRUCT}.{field}"
    if cells.dtype != object:  # a single numeric array instead of a cell array
        raise InputError(f"{where} must be a cell array of images, found a {cells.dtype} array")
    images = [np.asarray(image, dtype=np.float64) for image in cells.ravel()]
    if not images:
        raise InputError(
            f"{where} is empty (expected at least one {patch_size}x{patch_size} patch)"
        )

    for i, image in enumerate(images, start=1):  # MATLAB counts from 1
        if image.shape != (patch_size, patch_size):
            raise InputError(
                f"{where}{{{i}}} must be {patch_size}x{patch_size}, "
                f"found {'x'.join(map(str, image.shape))}"
            )
        if not np.all(np.isfinite(image)):
            raise InputError(f"{where}{{{i}}} holds NaN or infinite values")
    return images
