"""``lab2-analyze`` end to end: in this process through ``analyze``, and as the installed
command."""

import csv
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import open_dict

from lab2.cli import config_dir
from lab2.cli.analyze import analyze
from lab2.errors import InputError

# Small and quick: timing is exercised, never asserted on.
QUICK = [
    "analysis.input_size=[32,32]",
    "analysis.repeats=1",
    "analysis.warmup=0",
    "analysis.batch_size=1",
    "analysis.threads=1",
]


@pytest.fixture
def compose_analyze(tmp_path):
    """Composes ``conf/analyze.yaml`` as the command would, with the run folder in
    ``tmp_path``."""

    def make(*overrides):
        with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
            config = compose("analyze", overrides=[*QUICK, *overrides])
        with open_dict(config):
            config.paths.output_dir = str(tmp_path)
        return config

    return make


def test_writes_markdown_and_csv_for_a_comparison(compose_analyze, tmp_path):
    analyses = analyze(compose_analyze("compare=cost_chain_3x3"), "cost_chain")

    assert list(analyses) == ["cost_chain", "cost_chain_3x3"]
    assert analyses["cost_chain"].input_shape == (1, 32, 32)  # the size set, the channels kept
    rows = list(csv.DictReader((tmp_path / "analysis.csv").open()))
    assert [r["model"] for r in rows] == ["cost_chain"] * 10 + ["cost_chain_3x3"] * 12
    assert all(r["agrees"] == "True" for r in rows)
    markdown = (tmp_path / "analysis.md").read_text()
    assert markdown.startswith("# lab2-analyze: cost_chain vs cost_chain_3x3\n")
    assert "| blue | Conv2d | 32x32x10 | 2,510 |" in markdown
    assert "- red / blue: parameters 5,020 / 2,510 = 2.000" in markdown
    assert "| receptive field at the output | 36x36 | 36x36 |" in markdown


def test_a_model_compared_with_itself_gets_two_columns(compose_analyze):
    analyses = analyze(compose_analyze("compare=cost_chain"), "cost_chain")
    assert list(analyses) == ["cost_chain", "cost_chain (compare)"]


def test_timing_can_be_left_out(compose_analyze, tmp_path):
    analyses = analyze(compose_analyze("analysis.repeats=0"), "cost_chain")
    assert analyses["cost_chain"].seconds is None
    assert "time: median" not in (tmp_path / "analysis.md").read_text()


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["analysis.input_size=[2,2]"], r"model=cost_chain at input size 2x2 \(analysis.input_"),
        (["analysis.input_size=[0,8]"], r"analysis.input_size must be a whole number >= 1, got 0"),
        (["analysis.input_size=[8]"], r"analysis.input_size must be \[H, W\], got \[8\]"),
        (["analysis.repeats=-1"], r"analysis.repeats must be a whole number >= 0, got -1"),
        (["analysis.batch_size=0"], r"analysis.batch_size must be a whole number >= 1, got 0"),
        (["analysis.threads=0"], r"analysis.threads must be a whole number >= 1, got 0"),
        (["analysis.ratio=[red]"], r"analysis.ratio must be two layer names or null, got \['red'"),
        (
            ["compare=nope"],
            r"compare must name a model config, one of \[.*'cost_chain'.*got 'nope'",
        ),
        (["compare=[a,b]"], r"compare must be the name of one model config"),
    ],
)
def test_bad_settings_are_named(compose_analyze, overrides, message, tmp_path):
    with pytest.raises(InputError, match=message):
        analyze(compose_analyze(*overrides), "cost_chain")
    assert not (tmp_path / "analysis.md").exists()


def test_a_model_without_layers_is_refused_with_the_ones_that_have_them(compose_analyze):
    with pytest.raises(InputError, match=r"model=linear: lab2-analyze needs a config with `l"):
        analyze(compose_analyze("model=linear"), "linear")
    with pytest.raises(InputError, match=r"one of \[.*'cost_chain', 'cost_chain_3x3'"):
        analyze(compose_analyze("compare=linear"), "cost_chain")


def run_command(*args, cwd):
    env = {**os.environ, "HYDRA_FULL_ERROR": "0"}
    command = [Path(sys.executable).parent / "lab2-analyze", *args]
    return subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=300)


def test_command_prints_the_tables_and_writes_the_files(tmp_path):
    # compare= inside a running Hydra app composes through the app's own search path.
    run_dir = tmp_path / "run"
    result = run_command(*QUICK, "compare=cost_chain_3x3", f"hydra.run.dir={run_dir}", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert "== cost_chain ==" in result.stdout
    assert "== side by side ==" in result.stdout
    assert "MACs 320,000 / 2,560,000 = 0.125 (1/8.0)" in result.stdout  # at 32x32
    assert {p.name for p in run_dir.iterdir()} >= {"analysis.md", "analysis.csv", ".hydra"}


@pytest.mark.slow  # a second start of the command (Lightning's import alone is seconds)
def test_command_reports_bad_input_in_one_line_and_leaves_no_run_folder(tmp_path):
    run_dir = tmp_path / "run"
    result = run_command("compare=nope", f"hydra.run.dir={run_dir}", cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.startswith("lab2-analyze: error: compare must name a model config")
    assert len(result.stderr.strip().splitlines()) == 1
    assert not run_dir.exists()
