"""Pictures of what was learned, for TensorBoard and for PNG files in the run folder."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never open a window

import matplotlib.pyplot as plt
import torch

from lab2.io import atomic_path


def signed_to_unit(w: torch.Tensor) -> torch.Tensor:
    """Maps a filter to [0, 1] symmetrically about zero: 0 -> 0.5 (grey), ``+max|w|`` -> 1
    (white), ``-max|w|`` -> 0 (black).

    The sign of a weight is what the lab's pictures are read for (dark cell rim, light
    surroundings), so zero stays mid-grey whatever the weights' range; the contrast is stretched
    to the largest absolute weight of the picture.

    Example:
        >>> signed_to_unit(torch.tensor([-2.0, 0.0, 1.0])).tolist()
        [0.0, 0.5, 0.75]
    """
    w = w.detach().float().cpu()
    scale = w.abs().max()
    if scale == 0:
        return torch.full_like(w, 0.5)
    return 0.5 + 0.5 * w / scale


def save_figure(figure: plt.Figure, path: str | Path) -> None:
    """Writes ``figure`` to ``path`` atomically (no half-written file) and closes it."""
    try:
        with atomic_path(path) as tmp:
            figure.savefig(tmp, dpi=100, bbox_inches="tight")
    finally:
        plt.close(figure)


def filter_figure(w: torch.Tensor, title: str = "learned filter w") -> plt.Figure:
    """The filter ``w`` as a grey image, zero at mid-grey, with a colour bar in weight units."""
    w = w.detach().float().cpu()
    scale = float(w.abs().max()) or 1.0
    figure, axes = plt.subplots(figsize=(4.2, 3.6))
    image = axes.imshow(w.numpy(), cmap="gray", vmin=-scale, vmax=scale)
    axes.set_title(title)
    axes.set_axis_off()
    figure.colorbar(image, ax=axes, fraction=0.046, pad=0.04)
    return figure
