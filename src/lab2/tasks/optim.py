"""Optimisers and learning-rate schedules from plain settings (the ``optim`` config group).

Tasks receive the settings as a plain dict and build the optimiser themselves, so a checkpoint's
hyperparameters hold numbers and strings only and load under torch's ``weights_only`` default.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

import torch

from lab2.errors import InputError, is_number

OPTIMIZERS: dict[str, type[torch.optim.Optimizer]] = {
    "sgd": torch.optim.SGD,
    "adam": torch.optim.Adam,
    "adamw": torch.optim.AdamW,
}
SCHEDULERS = ("cosine", "onecycle")

# Settings of the group that are not arguments of the optimiser.
_NOT_OPTIMIZER_ARGS = ("name", "epochs", "scheduler")


def check_optim(settings: Mapping[str, Any]) -> dict[str, Any]:
    """Validates the ``optim`` settings and returns them as a plain dict.

    Raises:
        InputError: an unknown optimiser or schedule, a learning rate that is not positive, or a
            negative weight decay.
    """
    settings = dict(settings)
    name = settings.get("name")
    if name not in OPTIMIZERS:
        raise InputError(f"optim.name must be one of {sorted(OPTIMIZERS)}, got {name!r}")
    lr = settings.get("lr")
    if not is_number(lr) or not lr > 0:
        raise InputError(f"optim.lr must be a positive number, got {lr!r}")
    weight_decay = settings.get("weight_decay", 0.0)
    if not is_number(weight_decay) or not weight_decay >= 0:
        raise InputError(f"optim.weight_decay must be a number >= 0, got {weight_decay!r}")
    momentum = settings.get("momentum", 0.0)
    if not is_number(momentum) or not 0 <= momentum < 1:
        raise InputError(f"optim.momentum must be a number in [0, 1), got {momentum!r}")
    scheduler = settings.get("scheduler")
    if scheduler is not None and scheduler not in SCHEDULERS:
        raise InputError(f"optim.scheduler must be null or one of {SCHEDULERS}, got {scheduler!r}")
    return settings


def build_optimizer(
    params: Iterable[torch.nn.Parameter], settings: Mapping[str, Any]
) -> torch.optim.Optimizer:
    """The optimiser named by ``settings["name"]``, given the other optimiser settings."""
    settings = check_optim(settings)
    kwargs = {k: v for k, v in settings.items() if k not in _NOT_OPTIMIZER_ARGS}
    try:
        return OPTIMIZERS[settings["name"]](params, **kwargs)
    except TypeError as error:
        raise InputError(
            f"optim: a setting {settings['name']!r} does not take ({error})"
        ) from error


def build_scheduler(
    optimizer: torch.optim.Optimizer, settings: Mapping[str, Any], epochs: int, steps: int
) -> dict[str, Any] | None:
    """The learning-rate schedule as Lightning's ``lr_scheduler`` dict, or ``None``.

    Args:
        optimizer: the optimiser to schedule.
        settings: the ``optim`` settings; ``scheduler`` is ``null``, ``"cosine"`` (per epoch,
            down to 0 at the last epoch) or ``"onecycle"`` (per step, peak ``lr``).
        epochs: the number of training epochs.
        steps: the number of optimiser steps of the whole run.
    """
    name = settings.get("scheduler")
    if name is None:
        return None
    if name == "cosine":
        schedule = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=epochs)
        return {"scheduler": schedule, "interval": "epoch"}
    schedule = torch.optim.lr_scheduler.OneCycleLR(optimizer, settings["lr"], total_steps=steps)
    return {"scheduler": schedule, "interval": "step"}
