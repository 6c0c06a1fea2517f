"""One table over the jobs of a Hydra multirun: ``summary.csv``, ``summary.md``, ``summary.png``.

:class:`MultirunSummary` is a Hydra callback (configured in ``conf/hydra/default.yaml``) that
writes the summary when a sweep ends; ``lab2-report DIR`` writes it again for any multirun
folder, for example after a cluster sweep whose submitting process did not wait.
"""

from __future__ import annotations

import csv
import io
import json
import logging
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import yaml
from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from lab2.errors import InputError
from lab2.io import write_text

if TYPE_CHECKING:
    from matplotlib import pyplot as plt

# Matplotlib is imported where a summary is drawn, and torch never: Hydra imports its callbacks
# in the launcher process of every run and sweep, which would otherwise pay seconds for them
# before a parallel sweep's workers start, and again to draw the summary.

log = logging.getLogger(__name__)

PLOTTED = ("val/acc", "train/acc", "test/acc")  # plotted against a swept number, if present


@dataclass
class Job:
    """One job of a multirun: its folder, its overrides and its final metrics."""

    folder: Path
    overrides: dict[str, str]
    metrics: dict[str, float] = field(default_factory=dict)

    @property
    def finished(self) -> bool:
        return bool(self.metrics)


def read_jobs(sweep_dir: Path) -> list[Job]:
    """The jobs of a multirun folder, in job-number order.

    Raises:
        InputError: ``sweep_dir`` is not a folder or holds no job folders.
    """
    sweep_dir = Path(sweep_dir)
    if not sweep_dir.is_dir():
        raise InputError(f"{sweep_dir}: no such multirun folder")
    folders = [p.parent.parent for p in sweep_dir.glob("*/.hydra/overrides.yaml")]
    if not folders:
        raise InputError(f"{sweep_dir}: no job folders (expected <job>/.hydra/overrides.yaml)")
    folders.sort(key=lambda p: (not p.name.isdigit(), int(p.name) if p.name.isdigit() else p.name))

    jobs = []
    for folder in folders:
        overrides = yaml.safe_load((folder / ".hydra" / "overrides.yaml").read_text()) or []
        pairs = dict(o.lstrip("+~").split("=", 1) for o in overrides if "=" in o)
        metrics_file = folder / "metrics.json"
        metrics = json.loads(metrics_file.read_text()) if metrics_file.is_file() else {}
        jobs.append(Job(folder, pairs, {k: v for k, v in metrics.items() if v is not None}))
    return jobs


def swept_keys(jobs: list[Job]) -> list[str]:
    """The overrides whose values differ between jobs, in command-line order."""
    keys: list[str] = []
    for job in jobs:
        keys.extend(k for k in job.overrides if k not in keys)
    return [k for k in keys if len({job.overrides.get(k) for job in jobs}) > 1]


def write_summary(sweep_dir: Path) -> list[Path]:
    """Writes the summary files of a multirun folder and returns their paths."""
    sweep_dir = Path(sweep_dir)
    jobs = read_jobs(sweep_dir)
    swept = swept_keys(jobs)
    metric_keys = sorted({k for job in jobs for k in job.metrics})

    header = ["job", *swept, *metric_keys]
    rows = []
    for job in jobs:
        values = [job.overrides.get(k, "") for k in swept]
        metrics = [job.metrics.get(k) for k in metric_keys]
        rows.append([job.folder.name, *values, *metrics])

    # The table to read leaves the per-class values (test/precision/3, ...) to the CSV: ten
    # classes of two metrics in three stages would bury the columns people compare.
    shown = [i for i, key in enumerate(header) if i <= len(swept) or key.count("/") < 2]
    written = [sweep_dir / "summary.csv", sweep_dir / "summary.md"]
    write_text(written[0], _csv(header, rows))
    write_text(
        written[1],
        _markdown(
            [header[i] for i in shown],
            [[row[i] for i in shown] for row in rows],
            jobs,
            left_out=len(shown) < len(header),
        ),
    )

    from lab2.plots import save_figure

    numeric = [k for k in swept if all(_number(job.overrides.get(k)) is not None for job in jobs)]
    if len(swept) == 1 and numeric and any(job.finished for job in jobs):
        written.append(sweep_dir / "summary.png")
        save_figure(_metric_plot(jobs, swept[0]), written[-1])
    filters = [(job, _final_filter(job.folder)) for job in jobs]
    if swept and any(w is not None for _, w in filters):
        written.append(sweep_dir / "summary_w.png")
        save_figure(_filter_grid(filters, swept), written[-1])
    return written


class MultirunSummary(Callback):
    """Hydra callback: writes :func:`write_summary` at the end of every multirun."""

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        sweep_dir = Path(config.hydra.sweep.dir)
        try:
            written = write_summary(sweep_dir)
        except InputError as error:  # a sweep whose jobs all failed early
            log.warning("no multirun summary: %s", error)
            return
        log.info("multirun summary: %s", ", ".join(str(p) for p in written))


def _number(text: str | None) -> float | None:
    try:
        return float(text)
    except (TypeError, ValueError):
        return None


def _cell(value: Any) -> str:
    if isinstance(value, float) and value.is_integer() and abs(value) >= 10:
        return f"{value:.0f}"  # a count, such as model/params
    if isinstance(value, float):
        return f"{value:.4f}"
    return "" if value is None else str(value)


def _csv(header: list[str], rows: list[list[Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows([[("" if v is None else v) for v in row] for row in rows])
    return buffer.getvalue()


def _markdown(header: list[str], rows: list[list[Any]], jobs: list[Job], left_out: bool) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    failed = [job.folder.name for job in jobs if not job.finished]
    if failed:
        lines += ["", f"Jobs without metrics.json (failed or unfinished): {', '.join(failed)}."]
    if left_out:
        lines += ["", "Per-class precision and recall: summary.csv."]
    return "\n".join(lines) + "\n"


def _metric_plot(jobs: list[Job], key: str) -> plt.Figure:
    finished = [job for job in jobs if job.finished]
    finished.sort(key=lambda job: _number(job.overrides[key]))
    x = [_number(job.overrides[key]) for job in finished]
    from lab2.plots import plt

    figure, axes = plt.subplots(figsize=(5, 3.5))
    for metric in PLOTTED:
        if any(metric in job.metrics for job in finished):
            y = [job.metrics.get(metric, math.nan) for job in finished]
            axes.plot(x, y, marker="o", label=metric)
    if min(x) > 0 and max(x) / min(x) >= 100:  # a sweep over decades, such as Ex 2.6's s
        axes.set_xscale("log")
    axes.set_xlabel(key)
    axes.set_ylabel("final value")
    axes.grid(alpha=0.3)
    axes.legend()
    return figure


def _final_filter(folder: Path) -> np.ndarray | None:
    """The final ``w`` of a Part 1 job, from its ``w.npy``."""
    path = folder / "w.npy"
    if not path.is_file():
        return None
    return np.load(path)


def _filter_grid(filters: list[tuple[Job, np.ndarray | None]], swept: list[str]) -> plt.Figure:
    shown = [(job, w) for job, w in filters if w is not None]
    from lab2.plots import plt

    figure, axes = plt.subplots(1, len(shown), figsize=(2.6 * len(shown), 2.9), squeeze=False)
    for axis, (job, w) in zip(axes[0], shown, strict=True):
        scale = float(abs(w).max()) or 1.0  # as w.png: zero at mid-grey
        axis.imshow(w, cmap="gray", vmin=-scale, vmax=scale)
        axis.set_title(", ".join(f"{k.split('.')[-1]}={job.overrides[k]}" for k in swept))
        axis.set_axis_off()
    figure.suptitle("final w of each job, each scaled to its own largest |w|")
    return figure
