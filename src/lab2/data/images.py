"""Image files as the digits the networks were trained on (Ex 2.13).

MNIST's digits are light strokes on a black background, each scaled to fit a 20x20 box and
placed in the 28x28 image so that its centre of mass is at the centre (LeCun et al., "THE MNIST
DATABASE of handwritten digits"). :func:`as_digit` does the same to any picture of a digit: a
photo or scan of dark ink on light paper is inverted, the background is subtracted, the digit is
cut out, scaled into the box and centred by mass. A picture already of the network's size (a
digit from the data set, or a failure case the lab saved) is taken as it is, only inverted if
its background is light.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from lab2.errors import InputError

BOX_FRACTION = 20 / 28  # MNIST fits each digit into a 20x20 box of the 28x28 image
INK_THRESHOLD = 0.2  # of the darkest-to-lightest range: what counts as part of the digit


def image_extensions() -> set[str]:
    """The file name extensions Pillow can read (``.png``, ``.jpg``, ...)."""
    from PIL import Image

    return {ext for ext, fmt in Image.registered_extensions().items() if fmt in Image.OPEN}


def read_gray(path: str | Path) -> np.ndarray:
    """Reads an image file as grayscale floats in [0, 1], ``(H, W)``; transparent parts are
    taken as white paper.

    Raises:
        InputError: the file is missing or is not an image Pillow can read.
    """
    from PIL import Image, UnidentifiedImageError

    path = Path(path)
    if not path.is_file():
        raise InputError(f"image: no such file: {str(path)!r}")
    try:
        with Image.open(path) as image:
            image.load()
            if image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info:
                paper = Image.new("RGBA", image.size, "white")
                image = Image.alpha_composite(paper, image.convert("RGBA"))
            gray = np.asarray(image.convert("L"), dtype=np.float32) / 255.0
    except (UnidentifiedImageError, OSError, ValueError) as error:
        raise InputError(f"image: {path} is not an image file Pillow can read ({error})") from error
    return gray


def as_digit(gray: np.ndarray, size: int = 28) -> np.ndarray:
    """Turns a grayscale picture of one digit into the network's input format.

    Args:
        gray: ``(H, W)`` intensities in [0, 1], either polarity, any size.
        size: the side of the network's square input.

    Returns:
        ``(size, size)`` float32 intensities in [0, 1]: a light digit on black.

    Example:
        >>> paper = np.ones((100, 60), dtype=np.float32)
        >>> paper[20:80, 25:35] = 0.0  # a dark vertical stroke: a "1"
        >>> digit = as_digit(paper)
        >>> digit.shape, float(digit.max()), float(digit[0, 0])
        ((28, 28), 1.0, 0.0)
    """
    gray = np.asarray(gray, dtype=np.float32)
    border = np.concatenate([gray[0], gray[-1], gray[:, 0], gray[:, -1]])
    background = float(np.median(border))
    if background > 0.5:  # dark ink on light paper: make it light on dark, as MNIST is
        gray, background = 1.0 - gray, 1.0 - background
    if gray.shape == (size, size):
        return gray

    ink = np.clip(gray - background, 0.0, None)
    if ink.max() <= 0:  # a blank picture: nothing to cut out
        return np.zeros((size, size), dtype=np.float32)
    ink /= ink.max()
    rows, cols = np.nonzero(ink > INK_THRESHOLD)
    ink = ink[rows.min() : rows.max() + 1, cols.min() : cols.max() + 1]  # (h, w) the digit

    # Scale the longer side to the box, keeping the aspect ratio (a "1" stays thin).
    box = round(BOX_FRACTION * size)
    factor = box / max(ink.shape)
    height, width = (max(1, round(s * factor)) for s in ink.shape)
    scaled = F.interpolate(
        torch.from_numpy(ink)[None, None],  # (1, 1, h, w)
        size=(height, width),
        mode="bilinear",
        antialias=True,  # averages when shrinking, as a camera would
        align_corners=False,
    )[0, 0].numpy()  # (height, width)

    # Place it so that its centre of mass lands on the image's centre, inside the image.
    mass_rows, mass_cols = np.indices(scaled.shape)
    total = scaled.sum()
    centre = (float((mass_rows * scaled).sum() / total), float((mass_cols * scaled).sum() / total))
    top = int(np.clip(round(size / 2 - 0.5 - centre[0]), 0, size - height))
    left = int(np.clip(round(size / 2 - 0.5 - centre[1]), 0, size - width))
    canvas = np.zeros((size, size), dtype=np.float32)
    canvas[top : top + height, left : left + width] = np.clip(scaled, 0.0, 1.0)
    return canvas


def image_files(path: str | Path) -> list[Path]:
    """``path`` itself if it is a file; the image files in it (sorted) if it is a folder.

    Raises:
        InputError: nothing at ``path``, or a folder without image files.
    """
    path = Path(path).expanduser()
    if path.is_file():
        return [path]
    if not path.is_dir():
        raise InputError(f"image: no such file or folder: {str(path)!r}")
    extensions = image_extensions()
    files = sorted(p for p in path.iterdir() if p.is_file() and p.suffix.lower() in extensions)
    if not files:
        raise InputError(f"image: {path} holds no image files (.png, .jpg, ...)")
    return files


def load_digits(paths: list[Path], size: int = 28) -> torch.Tensor:
    """Reads image files as a batch of network inputs, ``(N, 1, size, size)`` in [0, 1]."""
    digits = np.stack([as_digit(read_gray(path), size) for path in paths])  # (N, size, size)
    return torch.from_numpy(digits).unsqueeze(1)  # (N, 1, size, size)
