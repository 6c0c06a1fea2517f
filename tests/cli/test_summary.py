import csv
import json

import numpy as np
import pytest
import torch
import yaml

from lab2.cli.summary import read_jobs, swept_keys, write_summary
from lab2.errors import InputError


def make_job(sweep, number, overrides, metrics=None, w=None):
    folder = sweep / str(number)
    (folder / ".hydra").mkdir(parents=True)
    (folder / ".hydra" / "overrides.yaml").write_text(yaml.safe_dump(overrides))
    if metrics is not None:
        (folder / "metrics.json").write_text(json.dumps(metrics))
    if w is not None:
        np.save(folder / "w.npy", w.numpy())
    return folder


@pytest.fixture
def init_scale_sweep(tmp_path):
    for number, s in enumerate(["10", "1", "0.1", "0.01"]):
        metrics = {"val/acc": 0.5 + 0.1 * number, "train/acc": 0.6 + 0.1 * number}
        overrides = ["experiment=ex2_6", f"model.init_scale={s}"]
        make_job(tmp_path, number, overrides, metrics, torch.randn(35, 35))
    make_job(tmp_path, 10, ["experiment=ex2_6", "model.init_scale=0.001"])  # failed: no metrics
    return tmp_path


def test_one_row_per_job_with_its_swept_value_and_final_metrics(init_scale_sweep):
    write_summary(init_scale_sweep)
    with open(init_scale_sweep / "summary.csv") as f:
        rows = list(csv.DictReader(f))
    assert [row["job"] for row in rows] == ["0", "1", "2", "3", "10"]  # numeric order
    assert [row["model.init_scale"] for row in rows] == ["10", "1", "0.1", "0.01", "0.001"]
    assert float(rows[2]["val/acc"]) == pytest.approx(0.7)
    assert rows[4]["val/acc"] == ""
    assert "experiment" not in rows[0]  # the same in every job: not a swept setting


def test_markdown_and_figures(init_scale_sweep):
    written = write_summary(init_scale_sweep)
    names = sorted(p.name for p in written)
    assert names == ["summary.csv", "summary.md", "summary.png", "summary_w.png"]
    markdown = (init_scale_sweep / "summary.md").read_text()
    assert "| job | model.init_scale | train/acc | val/acc |" in markdown
    assert "| 2 | 0.1 | 0.8000 | 0.7000 |" in markdown
    assert "failed or unfinished): 10" in markdown
    assert (init_scale_sweep / "summary.png").stat().st_size > 1000


def test_no_plot_for_a_non_numeric_sweep(tmp_path):
    make_job(tmp_path, 0, ["data.shuffle=true"], {"val/acc": 0.9})
    make_job(tmp_path, 1, ["data.shuffle=false"], {"val/acc": 0.8})
    names = sorted(p.name for p in write_summary(tmp_path))
    assert names == ["summary.csv", "summary.md"]


def test_swept_keys_keep_command_line_order(tmp_path):
    make_job(tmp_path, 0, ["optim.lr=0.1", "seed=0", "data=cells"], {"val/acc": 1.0})
    make_job(tmp_path, 1, ["optim.lr=0.1", "seed=1", "data=cells_mat"], {"val/acc": 1.0})
    assert swept_keys(read_jobs(tmp_path)) == ["seed", "data"]


def test_not_a_multirun_folder(tmp_path):
    with pytest.raises(InputError, match=r"no job folders"):
        write_summary(tmp_path)
    with pytest.raises(InputError, match=r"no such multirun folder"):
        write_summary(tmp_path / "missing")


def test_report_command_writes_the_summary_of_a_folder(init_scale_sweep, capsys):
    from lab2.cli.report import main

    main([str(init_scale_sweep)])
    printed = capsys.readouterr().out.split()
    assert str(init_scale_sweep / "summary.md") in printed
    table = (init_scale_sweep / "summary.md").read_text()
    assert "0.001" in table  # the failed job's row is there, without metrics


def test_report_command_names_a_folder_that_is_not_a_multirun(tmp_path, capsys):
    from lab2.cli.report import main

    with pytest.raises(SystemExit) as exit_info:
        main([str(tmp_path / "nowhere")])
    assert exit_info.value.code == 2
    assert "nowhere: no such multirun folder" in capsys.readouterr().err


def test_markdown_leaves_per_class_values_to_the_csv(tmp_path):
    per_class = {f"test/precision/{k}": 0.9 for k in range(10)}
    for number, model in enumerate(["basic_cnn", "better_cnn"]):
        metrics = {"model/params": 42510.0, "test/acc": 0.9 + number / 20, **per_class}
        make_job(tmp_path, number, [f"model={model}"], metrics)
    write_summary(tmp_path)
    table = (tmp_path / "summary.md").read_text()
    assert table.splitlines()[0] == "| job | model | model/params | test/acc |"
    assert table.splitlines()[2] == "| 0 | basic_cnn | 42510 | 0.9000 |"
    assert "Per-class precision and recall: summary.csv." in table
    with open(tmp_path / "summary.csv") as f:
        assert "test/precision/9" in next(csv.reader(f))
