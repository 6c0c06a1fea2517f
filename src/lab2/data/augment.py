"""Ex 2.9 data augmentation: random rotations of the training patches.

Each patch is rotated about its centre by an angle drawn uniformly from [0, 360) degrees, on the
same 35x35 grid (bilinear interpolation). The corners that the rotation brings in from outside the
patch are filled by mirroring the patch at its border (scipy's ``mode="reflect"``), not with black
as MATLAB's ``imrotate(..., 'crop')`` does: black corners are a feature no real patch has, and a
linear filter would learn them. Mirroring keeps the cell's size and the local texture of the
background; rotating onto a larger canvas and shrinking back would shrink the cells (LAB2.md,
"Mistakes found in published solutions").
"""

from __future__ import annotations

import numpy as np
import torch
from scipy import ndimage

from lab2.errors import InputError


def add_rotations(
    patches: torch.Tensor, labels: torch.Tensor, copies: int, seed: int
) -> tuple[torch.Tensor, torch.Tensor]:
    """Returns the patches followed by ``copies`` randomly rotated copies of each.

    Args:
        patches: ``(N, H, W)`` images.
        labels: ``(N,)`` their labels; a rotated copy keeps its original's label.
        copies: ``M``, the number of rotated copies per patch (``data.rotations``); 0 returns
            the inputs unchanged.
        seed: seed of the angles.

    Returns:
        ``(N * (M + 1), H, W)`` patches, the originals first, and their ``(N * (M + 1),)`` labels.

    Example:
        >>> x, t = add_rotations(torch.rand(4, 35, 35), torch.tensor([1, 0, 1, 0]), 3, seed=0)
        >>> x.shape, t.tolist()[:8]
        (torch.Size([16, 35, 35]), [1, 0, 1, 0, 1, 0, 1, 0])
    """
    if not isinstance(copies, int) or copies < 0:
        raise InputError(f"data.rotations must be a whole number >= 0, got {copies!r}")
    if copies == 0:
        return patches, labels

    rng = np.random.default_rng(seed)
    angles = rng.uniform(0.0, 360.0, (copies, len(patches)))  # (M, N) degrees
    images = patches.double().cpu().numpy()
    rotated = [
        ndimage.rotate(image, angle, reshape=False, order=1, mode="reflect")
        for row in angles
        for image, angle in zip(images, row, strict=True)
    ]
    rotated = torch.from_numpy(np.stack(rotated)).to(patches.dtype)  # (M * N, H, W)
    return torch.cat([patches, rotated]), labels.repeat(copies + 1)
