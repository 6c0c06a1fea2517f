"""Matplotlib set up for files only, and figures saved atomically.

It imports no torch, so the launcher process of a sweep can draw the sweep's summary
(:mod:`lab2.cli.summary`) without loading torch; :mod:`lab2.figures` draws the pictures of
tensors on top of it.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # files only; never open a window

import matplotlib.pyplot as plt

from lab2.io import atomic_path

__all__ = ["plt", "save_figure"]


def save_figure(figure: plt.Figure, path: str | Path) -> None:
    """Writes ``figure`` to ``path`` atomically (no half-written file) and closes it."""
    try:
        with atomic_path(path) as tmp:
            figure.savefig(tmp, dpi=100, bbox_inches="tight")
    finally:
        plt.close(figure)
