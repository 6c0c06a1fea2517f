"""``lab2-bench``: the project's training paths against minimal loops, side by side.

    lab2-bench                          # both parts, on this machine's CPU
    lab2-bench parts=[1] part1.epochs=100
    lab2-bench parts=[3]                # sweeps: joblib against the same jobs in turn
    lab2-bench 'part1.overrides=["data=cells_mat","data.path=cell_data.mat"]'
    lab2-bench parts=[2] 'part2.overrides=["trainer.precision=bf16-mixed"]'

Writes ``bench.json`` and ``bench.md`` into its run folder and prints the tables. Each leg runs
in a fresh process (see :mod:`lab2.bench`).
"""

from __future__ import annotations

import json
import logging
import os
import platform
import statistics
import subprocess
import sys
import time
from operator import itemgetter
from pathlib import Path
from typing import Any

import hydra
import numpy as np
import torch
from hydra import compose
from omegaconf import DictConfig, OmegaConf, open_dict

from lab2.bench import in_fresh_process
from lab2.bench.legs import per_example_updates, run_training
from lab2.bench.reference import lightning_loop, numpy_sgd, torch_loop
from lab2.cli import config_dir
from lab2.cli.common import build, build_task, seed_everything
from lab2.cli.reporting import reporting_input_errors
from lab2.data.loader import EpochOrder
from lab2.errors import InputError
from lab2.io import write_json, write_text

log = logging.getLogger(__name__)


def train_config(overrides: list[str], run_dir: Path) -> DictConfig:
    """The ``lab2-train`` config for ``overrides``, timed by a
    :class:`~lab2.bench.timing.FitTimer` that writes ``run_dir/timing.json``, resolved."""
    config = compose(
        "train",
        overrides=[
            "trainer.enable_progress_bar=false",
            "+callbacks.bench_timer._target_=lab2.bench.timing.FitTimer",
            f"+callbacks.bench_timer.path={run_dir / 'timing.json'}",
            *overrides,
        ],
    )
    with open_dict(config):
        config.paths.output_dir = str(run_dir)
    return OmegaConf.create(OmegaConf.to_container(config, resolve=True))


def part1(settings: DictConfig, run_dir: Path) -> dict[str, Any]:
    """Part 1, the Ex 2.8 protocol: ``lab2-train``'s whole run against the lab's loop in NumPy,
    on the same training patches, in the same order, from the same initial ``w``."""
    config = train_config(
        [
            f"model.init_scale={settings.init_scale}",
            f"optim.lr={settings.lr}",
            f"trainer.max_epochs={settings.epochs}",
            f"seed={settings.seed}",
            *settings.overrides,
        ],
        run_dir,
    )
    if config.data.batch_size != 1:
        raise InputError(
            f"part1.overrides: the Part 1 leg measures per-example SGD (data.batch_size=1), "
            f"got data.batch_size={config.data.batch_size}"
        )

    # The starting point both sides share, built the way lab2-train builds it.
    seed_everything(config)
    datamodule = build(config.data)
    w_start = build_task(config).model.w.detach().double().numpy()
    datamodule.setup("fit")
    x, t = (tensor.double().numpy() for tensor in datamodule.sets["train"])
    order = EpochOrder(len(t), datamodule.shuffle, datamodule.seed)
    orders = []
    for epoch in range(settings.epochs):
        order.set_epoch(epoch)
        orders.append(order.indices().numpy())

    log.info("Part 1: lab2-train, %d epochs of %d patches", settings.epochs, len(t))
    project = in_fresh_process(run_training, OmegaConf.to_container(config))
    log.info("Part 1: the same in NumPy, the lab's loop and a flattened one")
    lab_loop = in_fresh_process(numpy_sgd, x, t, w_start, 0.0, settings.lr, orders)
    flat_loop = in_fresh_process(numpy_sgd, x, t, w_start, 0.0, settings.lr, orders, True)
    log.info("Part 1: the project's per-example update alone")
    update = in_fresh_process(per_example_updates, x, t, w_start, settings.lr, orders)

    timing = json.loads((run_dir / "timing.json").read_text())
    checkpoint = torch.load(run_dir / "checkpoints" / "last.ckpt", weights_only=True)
    w_project = checkpoint["state_dict"]["model.w"].double().numpy()
    difference = max(
        float(np.abs(w_project - lab_loop["w"]).max()),
        float(np.abs(update["w"] - lab_loop["w"]).max()),
    )
    scale = max(1.0, float(np.abs(lab_loop["w"]).max()))

    examples = timing["examples"]
    numpy_rate = lab_loop["examples"] / lab_loop["seconds"]
    fit_rate = examples / timing["fit_s"]
    step_rate = examples / timing["train_step_s"]
    return {
        "part1_patches": len(t),
        "part1_epochs": settings.epochs,
        "part1_examples_per_s": fit_rate,
        "part1_train_step_examples_per_s": step_rate,
        "numpy_examples_per_s": numpy_rate,
        "numpy_flat_examples_per_s": flat_loop["examples"] / flat_loop["seconds"],
        "part1_update_examples_per_s": update["examples"] / update["seconds"],
        "part1_ratio": fit_rate / numpy_rate,
        "part1_train_step_ratio": step_rate / numpy_rate,
        "part1_same_w": difference <= 1e-9 * scale,
        "part1_max_w_difference": difference,
        "part1_run_s": project["run_s"],
        "part1_peak_rss_mb": project["peak_rss_mb"],
        "numpy_peak_rss_mb": lab_loop["peak_rss_mb"],
    }


def part2(settings: DictConfig, run_dir: Path) -> dict[str, Any]:
    """Part 2: ``basic_cnn`` with sgdm on the digits, ``lab2-train``'s ``fit`` against a bare
    PyTorch loop over the same model, optimiser, batch size and in-memory data, and against the
    bare loop's work through a Lightning Trainer with nothing else (what Lightning itself costs).

    Per-epoch times are medians over a run's epochs, so the first epoch's warm-up counts for
    none. The three legs alternate ``part2.repeats`` times and each keeps its fastest run: on
    a shared machine a slow run is one that was disturbed.
    """
    config = train_config(
        [
            "data=digits",
            "model=basic_cnn",
            f"trainer.max_epochs={settings.epochs}",
            f"seed={settings.seed}",
            *settings.overrides,
        ],
        run_dir,
    )
    plain = OmegaConf.to_container(config)
    timing_file = run_dir / "timing.json"
    runs: dict[str, list[tuple[float, dict[str, Any]]]] = {"fit": [], "lightning": [], "bare": []}
    for repeat in range(settings.repeats):
        step = f"Part 2, {repeat + 1} of {settings.repeats}"
        log.info("%s: lab2-train fit, %d epochs", step, settings.epochs)
        project = in_fresh_process(run_training, plain)
        fit = json.loads(timing_file.read_text())
        fit |= {"val_acc": project["metrics"].get("val/acc"), "peak_rss_mb": project["peak_rss_mb"]}
        runs["fit"].append((statistics.median(fit["epoch_s"]), fit))
        log.info("%s: the bare loop's work through a Lightning Trainer alone", step)
        alone = in_fresh_process(lightning_loop, plain, settings.epochs, str(timing_file))
        timing = json.loads(timing_file.read_text())
        runs["lightning"].append((statistics.median(timing["epoch_s"]), timing | alone))
        log.info("%s: a bare PyTorch loop", step)
        bare = in_fresh_process(torch_loop, plain, settings.epochs)
        bare["val_s"], bare["val_acc"] = sum(bare["val_s"]), bare["val_acc"][-1]
        bare["train_step_s"] = sum(bare["epoch_s"]) - bare["val_s"]
        runs["bare"].append((statistics.median(bare["epoch_s"]), bare))

    images = fit["examples"] // len(fit["epoch_s"])
    results: dict[str, Any] = {
        "part2_images": images,
        "part2_epochs": settings.epochs,
        "part2_repeats": settings.repeats,
        "part2_run_s": project["run_s"],
    }
    for leg, prefix in [("fit", "part2_fit"), ("lightning", "lightning"), ("bare", "bare")]:
        epoch, best = min(runs[leg], key=itemgetter(0))
        # Where an epoch's time goes, in the fastest run: means over its epochs.
        epochs = len(best["epoch_s"])
        steps, validation = best["train_step_s"] / epochs, best["val_s"] / epochs
        results |= {
            f"{prefix}_s_per_epoch": epoch,
            f"{prefix}_s_per_epoch_runs": [run[0] for run in runs[leg]],
            f"{prefix}_images_per_s": images / epoch,
            f"{prefix}_train_steps_s": steps,
            f"{prefix}_val_s": validation,
            # (The bare loop has none: its steps are its epoch less its validation.)
            f"{prefix}_rest_s": max(0.0, statistics.fmean(best["epoch_s"]) - steps - validation),
            f"{prefix}_peak_rss_mb": best["peak_rss_mb"],
            f"{prefix}_val_acc": best["val_acc"],
        }
    results["part2_ratio"] = results["part2_fit_s_per_epoch"] / results["bare_s_per_epoch"]
    results["lightning_ratio"] = results["lightning_s_per_epoch"] / results["bare_s_per_epoch"]
    return results


def lab2_train(*overrides: str) -> float:
    """Runs the ``lab2-train`` command (beside this interpreter) and returns its wall time."""
    command = [str(Path(sys.executable).parent / "lab2-train"), *overrides]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if done.returncode:
        raise RuntimeError(f"{' '.join(command)} failed:\n{done.stderr[-2000:]}")
    return seconds


def part3(settings: DictConfig, run_dir: Path) -> dict[str, Any]:
    """Sweeps: a two-job sweep of an exercise (``part3.experiment``, Ex 2.6 by default) over
    ``model.init_scale`` through the joblib launcher (one worker process per job), against the
    same jobs run one after the other, each as its own ``lab2-train`` command, and against
    Hydra's basic launcher (the jobs in turn, in one process). Whole commands, start-up
    included; each kept at its fastest of ``part3.repeats`` alternating runs."""
    values = [str(v) for v in settings.init_scales]
    common = [
        f"experiment={settings.experiment}",
        "trainer.enable_progress_bar=false",
        *settings.overrides,
    ]
    sweep = ["-m", *common, f"model.init_scale={','.join(values)}"]
    times: dict[str, list[float]] = {"joblib": [], "one_after_another": [], "basic": []}
    for repeat in range(settings.repeats):
        folder = run_dir / str(repeat)
        log.info("Sweeps, %d of %d: joblib, in turn, basic", repeat + 1, settings.repeats)
        times["joblib"].append(
            lab2_train(*sweep, "hydra/launcher=joblib", f"hydra.sweep.dir={folder / 'joblib'}")
        )
        times["one_after_another"].append(
            sum(
                lab2_train(*common, f"model.init_scale={v}", f"hydra.run.dir={folder / v}")
                for v in values
            )
        )
        times["basic"].append(lab2_train(*sweep, f"hydra.sweep.dir={folder / 'basic'}"))
    best = {name: min(runs) for name, runs in times.items()}
    return {
        "sweep_experiment": settings.experiment,
        "sweep_jobs": len(values),
        "sweep_repeats": settings.repeats,
        "sweep_joblib_s": best["joblib"],
        "sweep_one_after_another_s": best["one_after_another"],
        "sweep_basic_s": best["basic"],
        "sweep_joblib_ratio": best["joblib"] / best["one_after_another"],
        "sweep_joblib_vs_basic": best["joblib"] / best["basic"],
        "sweep_runs_s": times,
    }


def machine() -> dict[str, Any]:
    """What the numbers were measured on."""
    return {
        "cpus": os.cpu_count(),
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "processor": platform.processor() or platform.machine(),
        "cuda": torch.cuda.get_device_name() if torch.cuda.is_available() else None,
    }


def tables(results: dict[str, Any]) -> str:
    """``bench.md``: one table per part, ratios against the minimal loop."""

    def n(value: float) -> str:
        return f"{value:,.0f}"

    r = results
    lines = [f"Measured on {r['machine']['cpus']} CPUs, torch {r['machine']['torch']}"]
    if r["machine"]["cuda"]:
        lines[0] += f", GPU {r['machine']['cuda']}"
    lines[0] += ". Compare the ratios of one run; absolute times vary with the machine's load."
    if "part1_examples_per_s" in r:
        lines += [
            "",
            f"Part 1, Ex 2.8: {r['part1_epochs']} epochs of {r['part1_patches']} patches, "
            "per-example SGD in float64.",
            "",
            "| loop | examples/s | vs the lab's NumPy loop | peak RSS (MiB) |",
            "|---|---:|---:|---:|",
            f"| lab2-train, whole fit (validation, logging, w image, checkpoint every epoch) "
            f"| {n(r['part1_examples_per_s'])} | {r['part1_ratio']:.2f} "
            f"| {n(r['part1_peak_rss_mb'])} |",
            f"| lab2-train, training steps only | {n(r['part1_train_step_examples_per_s'])} "
            f"| {r['part1_train_step_ratio']:.2f} | |",
            f"| its per-example update alone (`sgd_per_example_`) "
            f"| {n(r['part1_update_examples_per_s'])} "
            f"| {r['part1_update_examples_per_s'] / r['numpy_examples_per_s']:.2f} | |",
            f"| NumPy, the lab's loop (`sum(w .* x)` on 35x35) | {n(r['numpy_examples_per_s'])} "
            f"| 1.00 | {n(r['numpy_peak_rss_mb'])} |",
            f"| NumPy, flattened patches (`x @ w`) | {n(r['numpy_flat_examples_per_s'])} "
            f"| {r['numpy_flat_examples_per_s'] / r['numpy_examples_per_s']:.2f} | |",
            "",
            f"Same final w: {str(r['part1_same_w']).lower()} (largest difference "
            f"{r['part1_max_w_difference']:.1e}).",
        ]
    if "part2_fit_s_per_epoch" in r:
        legs = [
            ("lab2-train fit", "part2_fit"),
            ("the same work through a Lightning Trainer alone", "lightning"),
            ("bare PyTorch loop", "bare"),
        ]
        lines += [
            "",
            f"Part 2: basic_cnn, sgdm, batch 128, {r['part2_images']} digits per epoch "
            f"(each run's median epoch, with its validation; the fastest of "
            f"{r['part2_repeats']} alternating runs). The Lightning Trainer alone runs the bare "
            "loop's steps (forward pass and loss) with no metrics, logger or checkpoint.",
            "",
            "| loop | s/epoch | images/s | vs bare | peak RSS (MiB) |",
            "|---|---:|---:|---:|---:|",
        ]
        for name, key in legs:
            epoch = r[f"{key}_s_per_epoch"]
            lines.append(
                f"| {name} | {epoch:.3f} | {n(r[f'{key}_images_per_s'])} "
                f"| {epoch / r['bare_s_per_epoch']:.2f} | {n(r[f'{key}_peak_rss_mb'])} |"
            )
        lines += [
            "",
            "Where an epoch's time goes (ms, means over the epochs of the same runs):",
            "",
            "| loop | training steps | validation | the rest | epoch |",
            "|---|---:|---:|---:|---:|",
        ]
        for name, key in legs:
            parts = [r[f"{key}_train_steps_s"], r[f"{key}_val_s"], r[f"{key}_rest_s"]]
            cells = " | ".join(f"{1000 * part:.0f}" for part in [*parts, sum(parts)])
            lines.append(f"| {name} | {cells} |")
        lines += [
            "",
            "Training steps: from each step's start to its end (forward, backward, optimiser). "
            "The rest: between the steps (fetching a batch, Lightning's hooks), the epoch-end "
            "metrics and their `self.log` calls, the checkpoint and the TensorBoard writes.",
        ]
    if "sweep_joblib_s" in r:
        lines += [
            "",
            f"Sweeps: {r['sweep_jobs']} jobs of {r['sweep_experiment']}, whole commands with "
            f"their start-up (the fastest of {r['sweep_repeats']} alternating runs).",
            "",
            "| how | s | vs one after the other |",
            "|---|---:|---:|",
            f"| `lab2-train -m hydra/launcher=joblib` | {r['sweep_joblib_s']:.1f} "
            f"| {r['sweep_joblib_ratio']:.2f} |",
            f"| one `lab2-train` after the other | {r['sweep_one_after_another_s']:.1f} | 1.00 |",
            f"| `lab2-train -m` (basic launcher, one process) | {r['sweep_basic_s']:.1f} "
            f"| {r['sweep_basic_s'] / r['sweep_one_after_another_s']:.2f} |",
        ]
    return "\n".join(lines) + "\n"


@hydra.main(config_path=config_dir(), config_name="bench", version_base="1.3")
def main(config: DictConfig) -> None:
    """The ``lab2-bench`` command."""
    run_dir = Path(config.paths.output_dir)
    with reporting_input_errors("lab2-bench", run_dir):
        unknown = set(config.parts) - {1, 2, 3}
        if unknown or not config.parts:
            raise InputError(f"parts must list some of 1, 2 and 3, got {list(config.parts)}")
        results: dict[str, Any] = {"machine": machine()}
        if 1 in config.parts:
            results |= part1(config.part1, run_dir / "part1")
        if 2 in config.parts:
            results |= part2(config.part2, run_dir / "part2")
        if 3 in config.parts:
            results |= part3(config.part3, run_dir / "part3")
        write_json(run_dir / "bench.json", results)
        text = tables(results)
        write_text(run_dir / "bench.md", text)
        print(text, end="")
        log.info("bench.json and bench.md in %s", run_dir)


if __name__ == "__main__":
    main()
