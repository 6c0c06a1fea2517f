"""Side-by-side speed measurements of the project's training paths against minimal loops.

Each leg runs in a fresh interpreter (:func:`in_fresh_process`), so that its peak resident
memory is its own and no leg warms another's caches:

- Part 1, the Ex 2.8 protocol: the project's training path (``lab2-train``'s own ``train``, with
  its Trainer, logger and callbacks) against a minimal NumPy loop of the same per-example SGD,
  on the same training patches, in the same order, from the same initial ``w``; both must end
  with the same ``w``.
- Part 2: ``basic_cnn`` with sgdm, the project's ``fit`` against a bare PyTorch loop over the
  same model, batch size, optimiser and in-memory data.

``lab2-bench`` runs them and writes ``bench.json`` and ``bench.md``. The machine may be shared:
compare the ratios of one run, not absolute times across runs.

This package imports nothing heavy at the top: the NumPy leg's process must not hold torch.
"""

from __future__ import annotations

import pickle
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any


def in_fresh_process(function: Callable[..., dict[str, Any]], *args: Any) -> dict[str, Any]:
    """Runs ``function(*args)`` in a new Python interpreter that imports only the function's
    module, and returns its result dict with the child's peak resident memory added as
    ``peak_rss_mb``.

    ``function`` must be a module-level function; its arguments and result must pickle.
    """
    target = f"{function.__module__}:{function.__qualname__}"
    with tempfile.TemporaryDirectory(prefix="lab2-bench-") as folder:
        arguments, result = Path(folder) / "args.pkl", Path(folder) / "result.pkl"
        arguments.write_bytes(pickle.dumps(args))
        command = [sys.executable, "-m", "lab2.bench.child", target, str(arguments), str(result)]
        subprocess.run(command, check=True)
        return pickle.loads(result.read_bytes())
