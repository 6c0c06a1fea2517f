"""Synthetic blood-smear images and the 35x35 patches the lab cuts from them.

The course's own file (``cell_data.mat``) is not redistributable, so the default data set is drawn
here: light, unevenly lit smears with dark red blood cells (discs or slight ellipses, radius about
9-13 px, a paler centre, soft edges), blurred and noisy, with values roughly in [0.1, 0.75] like the
course's patches. Because the generator places every cell, it knows every true centre, and so it
can cut foreground patches centred on cells and background patches centred away from all of them.

Everything is drawn from one ``numpy.random.Generator`` seeded by ``seed``: the same seed gives the
same patches, bit for bit, on any machine.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from lab2.errors import InputError

PATCH_SIZE = 35  # the course's patches are 35x35 pixels


@dataclass(frozen=True)
class Smear:
    """One synthetic smear image and the cells drawn on it.

    Attributes:
        image: ``(H, W)`` float64 intensities.
        centres: ``(K, 2)`` true cell centres as ``(row, col)``, in pixels.
        radii: ``(K,)`` mean radius of each cell, in pixels.
    """

    image: np.ndarray
    centres: np.ndarray
    radii: np.ndarray


def draw_smear(
    rng: np.random.Generator,
    size: int = 256,
    n_cells: int = 60,
    radius_range: tuple[float, float] = (9.0, 13.0),
    noise: float = 0.04,
    blur: float = 1.0,
    texture: float = 0.06,
    texture_scale: float = 3.0,
) -> Smear:
    """Draws one smear image with ``n_cells`` cells placed uniformly (overlaps allowed).

    Light is absorbed where cells lie: the image is ``illumination * exp(-sum of absorbances)``,
    so overlapping cells darken each other as stained cells on a slide do.

    Args:
        rng: the random generator everything is drawn from.
        size: height and width of the square image, in pixels.
        n_cells: how many cells to place.
        radius_range: mean cell radii are drawn uniformly from this range, in pixels.
        noise: standard deviation of the additive Gaussian noise.
        blur: standard deviation of the Gaussian blur (the microscope's point spread), in pixels.
    """
    rows, cols = np.mgrid[0:size, 0:size].astype(np.float64)  # (H, W) each
    centres = rng.uniform(0, size, (n_cells, 2))  # (K, 2)
    radii = rng.uniform(*radius_range, n_cells)  # (K,)

    # One cell: a soft-edged ellipse that absorbs strongly at its rim and less at its centre,
    # the biconcave look of a red blood cell.
    absorbance = np.zeros((size, size))
    for (r0, c0), radius in zip(centres, radii, strict=True):
        aspect = rng.uniform(0.85, 1.0)  # minor / major axis: discs or slight ellipses
        angle = rng.uniform(0, np.pi)
        du, dv = rows - r0, cols - c0
        u = (du * np.cos(angle) + dv * np.sin(angle)) / (radius / np.sqrt(aspect))
        v = (-du * np.sin(angle) + dv * np.cos(angle)) / (radius * np.sqrt(aspect))
        rho = np.sqrt(u**2 + v**2)  # 1 on the rim
        body = 1.0 / (1.0 + np.exp((rho - 1.0) / 0.06))  # soft edge
        pallor = rng.uniform(0.5, 0.9) * np.exp(-((rho / 0.45) ** 2))  # paler centre
        absorbance += rng.uniform(0.55, 1.1) * body * (1.0 - pallor)

    # Uneven illumination: a tilted plane times a broad bright spot.
    tilt = rng.uniform(-0.25, 0.25, 2)
    spot = rng.uniform(0, size, 2)
    illumination = (
        rng.uniform(0.56, 0.66)
        * (1.0 + tilt[0] * (rows / size - 0.5) + tilt[1] * (cols / size - 0.5))
        * (1.0 + 0.1 * np.exp(-((rows - spot[0]) ** 2 + (cols - spot[1]) ** 2) / (0.3 * size) ** 2))
    )

    # Stacked cells darken less than absorbances add up: the stain saturates (soft cap at 1.6).
    absorbance = 1.6 * np.tanh(absorbance / 1.6)
    # Blotchy staining: smooth noise a few pixels across, the texture that makes real patches
    # hard to tell apart with a single linear filter.
    stain = ndimage.gaussian_filter(rng.normal(0.0, 1.0, (size, size)), texture_scale)
    stain *= texture / stain.std()
    image = illumination * np.exp(-absorbance) * (1.0 + stain)
    image = ndimage.gaussian_filter(image, blur)
    image = image + rng.normal(0.0, noise, image.shape)
    return Smear(np.clip(image, 0.0, 1.0), centres, radii)


def cut_patch(image: np.ndarray, centre: tuple[int, int]) -> np.ndarray:
    """Cuts the ``PATCH_SIZE`` square patch centred on ``centre = (row, col)``."""
    half = PATCH_SIZE // 2
    r, c = centre
    return image[r - half : r + half + 1, c - half : c + half + 1]


def _inside(centre: np.ndarray, size: int) -> bool:
    half = PATCH_SIZE // 2
    return bool(np.all(centre >= half) and np.all(centre < size - half))


def _foreground_centres(smear: Smear, rng: np.random.Generator, jitter: int) -> list[np.ndarray]:
    size = smear.image.shape[0]
    found = []
    for centre in smear.centres:
        shifted = np.round(centre).astype(int) + rng.integers(-jitter, jitter + 1, 2)
        if _inside(shifted, size):
            found.append(shifted)
    return found


def _background_centres(
    smear: Smear, rng: np.random.Generator, count: int, near_fraction: float
) -> list[np.ndarray]:
    """Patch centres at least one cell radius away from every cell centre.

    A share ``near_fraction`` of them is drawn just outside a random cell (between 1 and 1.6 radii
    from its centre), the hard negatives a real smear is full of; the rest anywhere on the smear.
    """
    size = smear.image.shape[0]
    half = PATCH_SIZE // 2
    found: list[np.ndarray] = []
    for _ in range(50 * count):  # rejection sampling; a smear has plenty of free space
        if len(found) == count:
            break
        if rng.random() < near_fraction:
            k = rng.integers(len(smear.radii))
            angle, reach = rng.uniform(0, 2 * np.pi), rng.uniform(1.0, 1.6) * smear.radii[k]
            offset = reach * np.array([np.sin(angle), np.cos(angle)])
            centre = np.round(smear.centres[k] + offset).astype(int)
        else:
            centre = rng.integers(half, size - half, 2)
        distance = np.linalg.norm(smear.centres - centre, axis=1)  # (K,)
        if _inside(centre, size) and np.all(distance >= smear.radii):
            found.append(centre)
    return found


def make_cell_patches(
    n_foreground: int = 200,
    n_background: int = 200,
    seed: int = 0,
    image_size: int = 256,
    cells_per_image: int = 60,
    jitter: int = 4,
    near_fraction: float = 0.8,
) -> tuple[np.ndarray, np.ndarray]:
    """Draws smears until it has cut ``n_foreground`` cell and ``n_background`` background patches.

    Foreground patches are centred on a true cell centre moved by up to ``jitter`` pixels;
    background patches are centred at least one radius away from every cell centre, so they may
    hold parts of off-centre cells, as the course's do.

    Args:
        n_foreground: number of patches centred on a cell (label 1).
        n_background: number of patches centred away from every cell (label 0).
        seed: seed of the generator; the same seed gives the same patches bit for bit.
        image_size: side of each smear image, in pixels.
        cells_per_image: cells placed on each smear.
        jitter: largest shift of a foreground patch centre from the true cell centre, in pixels.

    Returns:
        ``(patches, labels)``: ``(N, 35, 35)`` float64 patches, foreground first, and ``(N,)``
        int64 labels (1 = cell, 0 = background).

    Example:
        >>> patches, labels = make_cell_patches(n_foreground=3, n_background=2, seed=0)
        >>> patches.shape, labels.tolist()
        ((5, 35, 35), [1, 1, 1, 0, 0])
    """
    for name, value in [("n_foreground", n_foreground), ("n_background", n_background)]:
        if value < 1:
            raise InputError(f"{name} must be a positive number of patches, got {value}")
    if image_size < 2 * PATCH_SIZE:
        raise InputError(f"image_size must be at least {2 * PATCH_SIZE} pixels, got {image_size}")

    rng = np.random.default_rng(seed)
    foreground: list[np.ndarray] = []
    background: list[np.ndarray] = []
    while len(foreground) < n_foreground or len(background) < n_background:
        smear = draw_smear(rng, image_size, cells_per_image)
        for centre in _foreground_centres(smear, rng, jitter):
            foreground.append(cut_patch(smear.image, centre))
        for centre in _background_centres(smear, rng, cells_per_image // 2, near_fraction):
            background.append(cut_patch(smear.image, centre))

    patches = np.stack(foreground[:n_foreground] + background[:n_background])  # (N, 35, 35)
    labels = np.r_[np.ones(n_foreground, np.int64), np.zeros(n_background, np.int64)]
    return patches, labels
