"""Rebuilding a trained task from its checkpoint, safely.

A lab2 checkpoint names its task class (``checkpoint["lab2_task"]``, written by
:meth:`LabTask.on_save_checkpoint <lab2.tasks.base.LabTask.on_save_checkpoint>`) and holds plain
hyperparameters, so it is read with ``torch.load(..., weights_only=True)``, which runs no code
from the file, and only classes under ``lab2.tasks`` are ever imported from what it says.
"""

from __future__ import annotations

import importlib
import pickle
from pathlib import Path
from typing import Any

import torch

from lab2.errors import InputError
from lab2.tasks.base import TASK_KEY, LabTask

_ALLOWED_PREFIX = "lab2.tasks."


def read_checkpoint(path: str | Path, setting: str = "ckpt_path") -> dict[str, Any]:
    """Loads a lab2 checkpoint onto the CPU, tensors and plain values only.

    Raises:
        InputError: no path, no such file, not a PyTorch checkpoint, or not one lab2 wrote.
    """
    if not path:
        raise InputError(f"{setting}: give a checkpoint, e.g. {setting}=outputs/.../last.ckpt")
    path = Path(path).expanduser()
    if not path.is_file():
        raise InputError(f"{setting}: no such file: {str(path)!r} (expected a .ckpt file)")
    try:
        checkpoint = torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        raise InputError(
            f"{setting}: {path} holds objects other than tensors and plain values, which "
            "torch.load(weights_only=True) refuses to run; lab2 checkpoints hold none"
        ) from error
    except Exception as error:  # torch raises many types (KeyError, EOFError, ...) on garbage
        raise InputError(
            f"{setting}: {path} is not a PyTorch checkpoint ({type(error).__name__}: "
            f"{str(error).strip()[:120]})"
        ) from error
    if not isinstance(checkpoint, dict) or "state_dict" not in checkpoint:
        raise InputError(f"{setting}: {path} is not a Lightning checkpoint (no state_dict)")
    if TASK_KEY not in checkpoint:
        raise InputError(
            f"{setting}: {path} is not a lab2 checkpoint: it does not name its task "
            f"({TASK_KEY!r}); checkpoints written by lab2-train do"
        )
    return checkpoint


def task_class(checkpoint: dict[str, Any], setting: str = "ckpt_path") -> type[LabTask]:
    """The task class a checkpoint names, imported only if it is a LabTask under lab2.tasks."""
    name = checkpoint[TASK_KEY]
    if not isinstance(name, str) or not name.startswith(_ALLOWED_PREFIX):
        raise InputError(f"{setting}: names task {name!r}, which is not one of lab2.tasks")
    module_name, _, class_name = name.rpartition(".")
    try:
        found = getattr(importlib.import_module(module_name), class_name)
    except (ImportError, AttributeError) as error:
        raise InputError(f"{setting}: names task {name!r}, which this lab2 lacks") from error
    if not (isinstance(found, type) and issubclass(found, LabTask)):
        raise InputError(f"{setting}: names {name!r}, which is not a lab2 task")
    return found


def load_task(path: str | Path, setting: str = "ckpt_path") -> tuple[LabTask, dict[str, Any]]:
    """Rebuilds the task a checkpoint holds: its class, its hyperparameters and its weights
    (with buffers such as the zero-centre mean), in evaluation mode on the CPU.

    Args:
        path: the ``.ckpt`` file.
        setting: the setting's name, for error messages.

    Returns:
        The task and the checkpoint's contents (for its other entries, such as the data
        module's hyperparameters).

    Raises:
        InputError: see :func:`read_checkpoint` and :func:`task_class`, or hyperparameters and
            weights that do not fit the task.
    """
    checkpoint = read_checkpoint(path, setting)
    cls = task_class(checkpoint, setting)
    hyperparameters = dict(checkpoint.get("hyper_parameters", {}))
    try:
        task = cls(**hyperparameters)
        task.load_state_dict(checkpoint["state_dict"])
    except (TypeError, RuntimeError) as error:  # wrong arguments or mismatched weights
        raise InputError(f"{setting}: {path} does not fit {cls.__name__}: {error}") from error
    task.eval()
    return task, checkpoint
