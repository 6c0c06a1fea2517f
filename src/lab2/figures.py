"""Pictures of what was learned, for TensorBoard and for PNG files in the run folder."""

from __future__ import annotations

from pathlib import Path

import torch

from lab2.io import atomic_path
from lab2.plots import plt, save_figure

__all__ = [
    "confusion_figure",
    "digit_grid",
    "failure_gallery",
    "filter_figure",
    "save_figure",
    "save_gray_png",
    "signed_to_unit",
    "to_uint8",
]


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


def to_uint8(image: torch.Tensor) -> torch.Tensor:
    """Stretches an image's intensities to the full 8-bit range: its darkest pixel becomes 0,
    its brightest 255 (a flat image becomes 0).

    Ex 2.20's "correctly scaled": an image written as it is fed to the network (values in [0, 1],
    or zero-centred ones with negatives) would come out nearly black or clipped as 8 bits.

    Example:
        >>> to_uint8(torch.tensor([[0.0, 0.5], [2.0, 0.0]])).tolist()
        [[0, 64], [255, 0]]
    """
    image = image.detach().float().cpu()
    low, high = image.min(), image.max()
    if high == low:
        return torch.zeros(image.shape, dtype=torch.uint8)
    return ((image - low) / (high - low) * 255).round().to(torch.uint8)


def save_gray_png(image: torch.Tensor, path: str | Path) -> None:
    """Writes a ``(H, W)`` or ``(1, H, W)`` image as an 8-bit grayscale PNG, atomically, with its
    intensities stretched by :func:`to_uint8`."""
    from PIL import Image  # matplotlib's own image library

    pixels = to_uint8(image.reshape(image.shape[-2:])).numpy()  # (H, W)
    with atomic_path(path) as tmp:
        Image.fromarray(pixels).save(tmp, format="PNG")  # uint8 (H, W): mode "L"


def confusion_figure(confusion: torch.Tensor, title: str = "confusion matrix") -> plt.Figure:
    """The confusion matrix as a picture: rows are the true classes, columns the predicted
    ones, each cell shaded by the share of its row and labelled with its count."""
    confusion = confusion.detach().cpu()
    k = len(confusion)
    shares = confusion.float() / confusion.sum(dim=1, keepdim=True).clamp(min=1)  # (K, K)
    figure, axes = plt.subplots(figsize=(0.55 * k + 1.8, 0.55 * k + 1.4))
    axes.imshow(shares.numpy(), cmap="Blues", vmin=0, vmax=1)
    for i in range(k):
        for j in range(k):
            count = int(confusion[i, j])
            if count:
                colour = "white" if shares[i, j] > 0.5 else "black"
                axes.text(j, i, str(count), ha="center", va="center", fontsize=7, color=colour)
    axes.set_xticks(range(k))
    axes.set_yticks(range(k))
    axes.set_xlabel("predicted class")
    axes.set_ylabel("true class")
    axes.set_title(title)
    return figure


def failure_gallery(
    images: torch.Tensor, labels: torch.Tensor, probabilities: torch.Tensor
) -> plt.Figure:
    """Misclassified images, one row each: the image, and the ten predicted probabilities as
    bars, the true class in green and the predicted one in red.

    Args:
        images: ``(M, 1, H, W)`` images.
        labels: ``(M,)`` their true classes.
        probabilities: ``(M, K)`` the network's class probabilities.
    """
    m, k = probabilities.shape
    figure, axes = plt.subplots(m, 2, figsize=(6, 1.6 * m), squeeze=False)
    for row, (image, label, p) in enumerate(zip(images, labels, probabilities, strict=True)):
        predicted = int(p.argmax())
        axes[row, 0].imshow(to_uint8(image[0]).numpy(), cmap="gray", vmin=0, vmax=255)
        axes[row, 0].set_axis_off()
        axes[row, 0].set_title(f"{int(label)} mistaken as {predicted}", fontsize=9)
        colours = ["tab:grey"] * k
        colours[int(label)], colours[predicted] = "tab:green", "tab:red"
        axes[row, 1].bar(range(k), p.float().cpu().numpy(), color=colours)
        axes[row, 1].set_ylim(0, 1)
        axes[row, 1].set_xticks(range(k))
        axes[row, 1].set_ylabel("p", fontsize=8)
    figure.tight_layout()
    return figure


def digit_grid(
    images: torch.Tensor, labels: torch.Tensor, title: str, columns: int = 8
) -> plt.Figure:
    """Images in a grid, each titled with its label (Ex 2.10: a look at the data).

    Args:
        images: ``(M, 1, H, W)`` images, shown as they are (0 black, 1 white).
        labels: ``(M,)`` their classes.
        title: the figure's title.
        columns: images per row.
    """
    rows = -(-len(images) // columns)
    figure, axes = plt.subplots(rows, columns, figsize=(1.1 * columns, 1.25 * rows + 0.4))
    for index, ax in enumerate(axes.flat):
        ax.set_axis_off()
        if index < len(images):
            ax.imshow(images[index, 0].detach().float().cpu().numpy(), cmap="gray", vmin=0, vmax=1)
            ax.set_title(str(int(labels[index])), fontsize=9)
    figure.suptitle(title)
    figure.tight_layout()
    return figure
