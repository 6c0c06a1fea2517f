"""``lab2-report``: writes a multirun folder's summary again (``summary.csv``, ``summary.md``,
``summary.png``, ``summary_w.png``; see :mod:`lab2.cli.summary`).

    lab2-report outputs/train/multirun/2026-12-03_10-00-00

For a sweep whose summary was never written: a cluster sweep whose submitting process did not
wait, or a sweep that stopped at a failed job (its finished jobs get their rows; a job without
``metrics.json`` gets a row without metrics).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

from lab2.cli.summary import write_summary
from lab2.errors import InputError


def main(argv: Sequence[str] | None = None) -> None:
    """The ``lab2-report`` command."""
    parser = argparse.ArgumentParser(
        prog="lab2-report", description="Write the summary of one or more multirun folders."
    )
    parser.add_argument("folders", nargs="+", type=Path, help="multirun folders")
    args = parser.parse_args(argv)
    for folder in args.folders:
        try:
            written = write_summary(folder)
        except InputError as error:
            print(f"lab2-report: error: {error}", file=sys.stderr)
            sys.exit(2)
        for path in written:
            print(path)


if __name__ == "__main__":
    main()
