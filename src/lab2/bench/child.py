"""``python -m lab2.bench.child MODULE:FUNCTION ARGS.pkl RESULT.pkl``: one benchmark leg.

Runs in a fresh interpreter started by :func:`lab2.bench.in_fresh_process`; imports the leg's
module and nothing else of the project.
"""

from __future__ import annotations

import importlib
import pickle
import sys
from pathlib import Path


def peak_rss_mb() -> float:
    """This process's peak resident memory in MiB: ``VmHWM`` of ``/proc/self/status``.

    Not ``getrusage``: Linux carries ``ru_maxrss`` over ``exec`` from the forked parent, so a
    child started from a large process would report the parent's peak.
    """
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024  # kB
    return float("nan")  # not Linux


def main(target: str, arguments: str, result: str) -> None:
    module, name = target.split(":")
    function = getattr(importlib.import_module(module), name)
    outcome = function(*pickle.loads(Path(arguments).read_bytes()))
    outcome["peak_rss_mb"] = peak_rss_mb()
    Path(result).write_bytes(pickle.dumps(outcome))


if __name__ == "__main__":
    main(*sys.argv[1:4])
