"""Turning bad input into one line on stderr, for every entry point.

Imports nothing heavy, so that a command that fails on its settings, and the launcher process of
a parallel sweep, never wait for torch or Lightning to load.
"""

from __future__ import annotations

import shutil
import sys
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from lab2.errors import InputError


@contextmanager
def reporting_input_errors(program: str, run_dir: Path) -> Iterator[None]:
    """Turns an :class:`InputError` into one line on stderr and exit status 2, and removes the
    run folder Hydra made for the failed run if it holds nothing but Hydra's own files."""
    try:
        yield
    except InputError as error:
        print(f"{program}: error: {error}", file=sys.stderr)
        _discard_empty_run(run_dir)
        sys.exit(2)


def _discard_empty_run(run_dir: Path) -> None:
    hydra_files = {".hydra"} | {p.name for p in run_dir.glob("*.log")}
    if not run_dir.is_dir() or {p.name for p in run_dir.iterdir()} - hydra_files:
        return
    shutil.rmtree(run_dir / ".hydra", ignore_errors=True)
    for name in hydra_files - {".hydra"}:
        (run_dir / name).unlink(missing_ok=True)
    with suppress(OSError):
        run_dir.rmdir()
