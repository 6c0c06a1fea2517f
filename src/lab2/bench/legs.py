"""Benchmark legs that run the project's own code, each in a fresh process."""

from __future__ import annotations

import time
from typing import Any


def run_training(config: dict[str, Any]) -> dict[str, Any]:
    """Runs ``lab2-train``'s own ``train`` on a resolved config; returns its wall time.

    The entry point is what is measured, so this leg calls it as the command would.
    """
    from omegaconf import OmegaConf

    from lab2.cli.train import train  # also registers the config resolvers

    started = time.perf_counter()
    metrics = train(OmegaConf.create(config))
    return {"run_s": time.perf_counter() - started, "metrics": metrics}
