"""Benchmark legs that run the project's own code, each in a fresh process (torch is imported
within them)."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

import numpy as np


def run_training(config: dict[str, Any]) -> dict[str, Any]:
    """Runs ``lab2-train``'s own ``train`` on a resolved config; returns its wall time.

    The entry point is what is measured, so this leg calls it as the command would.
    """
    from omegaconf import OmegaConf

    from lab2.cli.train import train  # also registers the config resolvers

    started = time.perf_counter()
    metrics = train(OmegaConf.create(config))
    return {"run_s": time.perf_counter() - started, "metrics": metrics}


def per_example_updates(
    x: np.ndarray, t: np.ndarray, w: np.ndarray, lr: float, orders: Sequence[np.ndarray]
) -> dict[str, Any]:
    """The project's per-example update alone (:func:`~lab2.models.linear.sgd_per_example_`,
    which the fast path calls once per epoch), over the same patches and orders as
    :func:`~lab2.bench.reference.numpy_sgd`, without Lightning around it.

    Returns:
        ``{"w", "seconds", "examples"}``, as ``numpy_sgd`` does.
    """
    import torch

    from lab2.models.linear import sgd_per_example_

    x, t = torch.from_numpy(x), torch.from_numpy(t)
    w, w0 = torch.tensor(w, dtype=torch.float64), torch.zeros((), dtype=torch.float64)
    started = time.perf_counter()
    for order in orders:
        index = torch.from_numpy(order)
        sgd_per_example_(w, w0, x[index], t[index], lr)
    seconds = time.perf_counter() - started
    return {"w": w.numpy(), "seconds": seconds, "examples": sum(map(len, orders))}
