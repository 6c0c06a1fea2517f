"""``lab2-analyze``: parameters, multiply-accumulates, receptive fields and time, layer by layer.

lab2-analyze model=basic_cnn
lab2-analyze model=cost_chain analysis.input_size=[28,28]
lab2-analyze model=cost_chain compare=cost_chain_3x3

Prints the tables and writes ``analysis.md`` and ``analysis.csv`` into the run folder.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import hydra
import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.errors import HydraException
from omegaconf import DictConfig, ListConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException
from torch import nn

from lab2.analysis import NetworkAnalysis, analyze_network
from lab2.analysis.report import check_lines, report, to_csv
from lab2.cli import config_dir
from lab2.cli.reporting import reporting_input_errors
from lab2.errors import InputError
from lab2.io import write_text
from lab2.models.cnn import Shape, build_layers

log = logging.getLogger(__name__)


def analyze(config: DictConfig, model_name: str = "model") -> dict[str, NetworkAnalysis]:
    """Analyses ``config.model`` (and ``config.compare``, if set) as ``config.analysis`` says.

    Writes ``analysis.md`` and ``analysis.csv`` into ``config.paths.output_dir`` and returns
    the analyses by model name, in order.

    Raises:
        InputError: a bad setting, a model that is not a layer chain, an input size the
            network cannot take, or a ``compare`` that names no model config.
    """
    settings = _settings(config.analysis)
    models = {model_name: config.model}
    if config.get("compare") is not None:
        other = _compare_name(config.compare)
        key = other if other != model_name else f"{other} (compare)"
        models[key] = model_config(other)

    analyses = {}
    with _threads(settings["threads"]):
        for name, model in models.items():
            network, input_shape = layer_chain(name, model, settings["input_size"])
            analyses[name] = analyze_network(
                network,
                input_shape,
                batch_size=settings["batch_size"],
                repeats=settings["repeats"],
                warmup=settings["warmup"],
            )
    for name, analysis in analyses.items():
        if not all(layer.agrees for layer in analysis.layers):
            log.warning("%s: %s", name, "; ".join(check_lines(analysis)))

    run_dir = Path(config.paths.output_dir)
    write_text(run_dir / "analysis.md", report(analyses, ratio=settings["ratio"], markdown=True))
    write_text(run_dir / "analysis.csv", to_csv(analyses))
    log.info("wrote analysis.md and analysis.csv to %s", run_dir)
    return analyses


def layer_chain(
    name: str, model: DictConfig, input_size: Sequence[int] | None
) -> tuple[nn.Sequential, Shape]:
    """The network a model config describes, built for ``input_size`` (``[H, W]``; ``None``:
    the config's own ``input_shape``), and its input shape ``(C, H, W)``.

    Raises:
        InputError: the config has no ``layers`` and ``input_shape``, or its network cannot
            take the input size.
    """
    if not {"layers", "input_shape"} <= set(model):
        raise InputError(
            f"model={name}: lab2-analyze needs a config with `layers` and `input_shape` (one of "
            f"{layer_chain_options()}); {name} has {sorted(model)}"
        )
    try:
        layers, input_shape = _plain(model.layers), _plain(model.input_shape)
    except OmegaConfBaseException as error:
        reason = str(error).splitlines()[0]
        raise InputError(
            f"model={name}: cannot read its layers and input_shape: {reason}"
        ) from None
    if not isinstance(input_shape, list) or len(input_shape) != 3:
        raise InputError(f"model={name}: input_shape must be [C, H, W], got {input_shape!r}")
    input_shape = [_whole(f"model={name}: input_shape", s, 1) for s in input_shape]
    setting = "its input_shape"
    if input_size is not None:
        input_shape = [input_shape[0], *input_size]
        setting = "analysis.input_size"
    try:
        return build_layers(layers, input_shape), tuple(input_shape)
    except InputError as error:
        size = "x".join(str(s) for s in input_shape[1:])
        raise InputError(f"model={name} at input size {size} ({setting}): {error}") from None


def model_config(name: str) -> DictConfig:
    """The ``model`` group's option ``name``, composed as ``model=NAME`` would compose it,
    interpolations and defaults lists included.

    Inside a running Hydra app the app's own search path is used; elsewhere (tests, a
    notebook) the project's config folder.

    Raises:
        InputError: no model config has that name.
    """
    overrides = [f"model={name}"]
    try:
        if GlobalHydra.instance().is_initialized():
            return compose("analyze", overrides=overrides).model
        with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
            return compose("analyze", overrides=overrides).model
    except HydraException as error:
        raise InputError(
            f"compare must name a model config, one of {model_options()}; got {name!r} "
            f"({str(error).splitlines()[0]})"
        ) from None


def model_options() -> list[str]:
    """The names of the ``model`` group's options in the project's config folder."""
    return sorted(p.stem for p in (Path(config_dir()) / "model").glob("*.yaml"))


def layer_chain_options() -> list[str]:
    """The model options that describe a layer chain (``layers`` and ``input_shape``)."""
    folder = Path(config_dir()) / "model"
    return [
        name
        for name in model_options()
        if {"layers", "input_shape"} <= set(OmegaConf.load(folder / f"{name}.yaml"))
    ]


def _plain(value: Any) -> Any:
    if isinstance(value, (DictConfig, ListConfig)):
        return OmegaConf.to_container(value, resolve=True)
    return value


def _compare_name(value: Any) -> str:
    if isinstance(value, (DictConfig, ListConfig)) or not str(value).strip():
        raise InputError(
            f"compare must be the name of one model config, one of {model_options()}; got {value!r}"
        )
    return str(value)


def _settings(analysis: DictConfig) -> dict[str, Any]:
    settings = OmegaConf.to_container(analysis, resolve=True)
    for key, least in [("batch_size", 1), ("repeats", 0), ("warmup", 0)]:
        settings[key] = _whole(f"analysis.{key}", settings.get(key), least)
    if settings.get("threads") is not None:
        settings["threads"] = _whole("analysis.threads", settings["threads"], 1)

    size = settings.get("input_size")
    if size is not None:
        if not isinstance(size, list) or len(size) != 2:
            raise InputError(f"analysis.input_size must be [H, W], got {size!r}")
        settings["input_size"] = [_whole("analysis.input_size", s, 1) for s in size]

    ratio = settings.get("ratio")
    if ratio is not None and (
        not isinstance(ratio, list) or len(ratio) != 2 or not all(isinstance(r, str) for r in ratio)
    ):
        raise InputError(f"analysis.ratio must be two layer names or null, got {ratio!r}")
    settings["ratio"] = None if ratio is None else tuple(ratio)
    return settings


def _whole(setting: str, value: Any, least: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < least:
        raise InputError(f"{setting} must be a whole number >= {least}, got {value!r}")
    return value


@contextmanager
def _threads(threads: int | None):
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@hydra.main(config_path=config_dir(), config_name="analyze", version_base="1.3")
def main(config: DictConfig) -> None:
    """The ``lab2-analyze`` command."""
    model_name = HydraConfig.get().runtime.choices.get("model", "model")
    with reporting_input_errors("lab2-analyze", Path(config.paths.output_dir)):
        analyses = analyze(config, model_name)
        print(report(analyses, ratio=_settings(config.analysis)["ratio"]))


if __name__ == "__main__":
    main()
