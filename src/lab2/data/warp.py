"""On-the-fly augmentation of whole batches of images: random small rotations, zooms and shifts.

Every image of a batch gets its own random similarity transform, applied in one
``affine_grid`` / ``grid_sample`` call on the batch's device: no per-image Python work, so it
costs a few percent of a training step. Pixels brought in from outside the image are 0, the
background of MNIST's digits (the transform runs before the network subtracts its mean image).

Handwriting varies in exactly these ways (slant, size, position), so the transformed digits are
still digits of the same class; this is what lets a network trained on a few thousand digits
generalise (Simard, Steinkraus and Platt, "Best practices for convolutional neural networks
applied to visual document analysis", ICDAR 2003).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import torch
import torch.nn.functional as F

from lab2.errors import InputError

# setting -> (meaning, largest sensible value)
AUGMENT_SETTINGS = {
    "rotation": ("the largest rotation, in degrees", 180.0),
    "scale": ("the largest relative change of size (0.1: 90% to 110%)", 0.5),
    "shift": ("the largest shift along each axis, in pixels", 14.0),
}


def check_augment(settings: Mapping[str, Any] | None, where: str = "model.augment") -> dict:
    """Validates augmentation settings (see :data:`AUGMENT_SETTINGS`); ``None`` means none.

    Raises:
        InputError: an unknown setting, or a value that is not a number in its range.
    """
    if settings is None:
        return {}
    settings = dict(settings)
    unknown = set(settings) - set(AUGMENT_SETTINGS)
    if unknown:
        raise InputError(
            f"{where}: unknown setting(s) {sorted(unknown)}; it takes {sorted(AUGMENT_SETTINGS)}"
        )
    for name, value in settings.items():
        meaning, largest = AUGMENT_SETTINGS[name]
        if not isinstance(value, (int, float)) or isinstance(value, bool):
            raise InputError(f"{where}.{name} ({meaning}) must be a number, got {value!r}")
        if not 0 <= value <= largest:
            raise InputError(f"{where}.{name} ({meaning}) must be in [0, {largest}], got {value}")
    return settings


def random_affine(
    images: torch.Tensor,
    rotation: float = 0.0,
    scale: float = 0.0,
    shift: float = 0.0,
    generator: torch.Generator | None = None,
) -> torch.Tensor:
    """Rotates, zooms and shifts every image of a batch by its own random amounts.

    Angles are drawn uniformly from ``[-rotation, rotation]`` degrees, zoom factors from
    ``[1 - scale, 1 + scale]``, shifts from ``[-shift, shift]`` pixels along each axis, all about
    the image centre, with bilinear interpolation.

    Args:
        images: ``(N, C, H, W)`` images.
        rotation: the largest angle, in degrees.
        scale: the largest relative change of size.
        shift: the largest shift, in pixels.
        generator: the random generator (on the images' device); ``None`` uses torch's global
            one, which ``seed`` seeds.

    Returns:
        The transformed images, same shape, dtype and device.

    Example:
        >>> x = torch.rand(8, 1, 28, 28)
        >>> random_affine(x, rotation=10, scale=0.1, shift=2).shape
        torch.Size([8, 1, 28, 28])
        >>> torch.equal(random_affine(x), x)  # nothing to do: the images come back unchanged
        True
    """
    if rotation == scale == shift == 0:
        return images
    n, _, h, w = images.shape

    def uniform(*shape: int) -> torch.Tensor:  # uniform in [-1, 1]
        u = torch.rand(*shape, generator=generator, device=images.device, dtype=images.dtype)
        return 2 * u - 1

    angle = uniform(n) * math.radians(rotation)  # (N,)
    zoom = 1 + uniform(n) * scale  # (N,)
    # affine_grid works in normalised coordinates, -1 to 1 across the image: one pixel is 2 / W
    # along x and 2 / H along y. Its matrix maps each output position to where the input is
    # read, the inverse of the image's motion; the draws are symmetric, so only the ranges count.
    offset = uniform(n, 2) * shift * torch.tensor([2 / w, 2 / h], device=images.device)  # (N, 2)
    cos, sin = torch.cos(angle) / zoom, torch.sin(angle) / zoom  # (N,), (N,)
    theta = torch.stack(
        [
            torch.stack([cos, -sin * h / w, offset[:, 0]], dim=1),  # (N, 3); h / w: non-square
            torch.stack([sin * w / h, cos, offset[:, 1]], dim=1),  # (N, 3)
        ],
        dim=1,
    )  # (N, 2, 3)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)  # (N, H, W, 2)
    return F.grid_sample(images, grid, padding_mode="zeros", align_corners=False)  # (N, C, H, W)
