"""The tables: what they show, and that a failed check shows."""

import csv
import dataclasses
import io

import pytest

from lab2.analysis.report import (
    CSV_COLUMNS,
    check_lines,
    comparison_table,
    layer_table,
    render_markdown,
    render_text,
    report,
    to_csv,
)
from lab2.analysis.summary import analyze_network

CHAIN = [  # a small chain with a blue and a red layer, as in Ex 2.16
    {"type": "conv", "out_channels": 2, "kernel_size": 3, "padding": "same", "name": "blue"},
    {"type": "relu"},
    {"type": "maxpool", "kernel_size": 2},
    {"type": "conv", "out_channels": 4, "kernel_size": 3, "padding": "same", "name": "red"},
]


@pytest.fixture(scope="module")
def chain():
    return analyze_network(CHAIN, (2, 8, 8), batch_size=2, repeats=2, warmup=0)


def test_layer_table_has_a_row_per_layer_and_a_total(chain):
    table = layer_table(chain)
    assert [row[0] for row in table.rows] == ["blue", "relu1", "maxpool1", "red", "total"]
    blue, *_, red, total = table.rows
    assert blue[2:6] == ["8x8x2", "38", "38", "2,304"]  # 8*8*2 outputs, 2*9 products each
    assert red[2:6] == ["4x4x4", "76", "114", "1,152"]
    assert total[3] == "114"
    assert total[5] == "3,456"
    # 4 + 2 * 2 = 8 pixels, but starting 1 + 1 * 2 = 3 pixels into the padding: no unit's
    # field lies inside an 8x8 image, and the best one shows 7 rows and columns of it.
    assert red[8:11] == ["8x8", "2x2", "7x7 (clipped)"]
    assert all(len(row) == len(table.headers) for row in table.rows)


def test_text_and_markdown_hold_the_same_cells(chain):
    table = layer_table(chain)
    text, markdown = render_text(table), render_markdown(table)
    assert len(text.splitlines()) == len(markdown.splitlines()) == len(table.rows) + 2
    for row in table.rows:
        assert "| " + " | ".join(row) + " |" in markdown
        assert all(cell in text for cell in row)


def test_a_failed_check_is_shown(chain):
    good = chain.layers[3]
    bad_field = dataclasses.replace(good, measured=((0, 0), (0, 0)))
    bad_macs = dataclasses.replace(good, counted_macs=good.macs + 1)
    broken = dataclasses.replace(chain, layers=(*chain.layers[:3], bad_field))
    assert check_lines(chain)[0].startswith("checks: all 4 layers agree")
    (line,) = check_lines(broken)
    assert line.startswith("check FAILED at red: field 8x8")
    assert "1x1 (MISMATCH)" in render_text(layer_table(broken))
    assert not bad_macs.agrees
    assert bad_macs.fields_agree


def test_csv_holds_every_layer_of_every_network(chain):
    rows = list(csv.DictReader(io.StringIO(to_csv({"a": chain, "b": chain}))))
    assert len(rows) == 8
    assert list(rows[0]) == CSV_COLUMNS
    red = rows[3]
    assert (red["model"], red["layer"], red["macs"], red["counted_macs"]) == (
        "a",
        "red",
        "1152",
        "1152",
    )
    assert float(red["mac_share"]) == pytest.approx(1152 / 3456)
    assert float(red["time_ms"]) > 0
    assert (red["field_h"], red["jump_w"], red["agrees"]) == ("8", "2", "True")


def test_report_compares_side_by_side(chain):
    other = analyze_network(CHAIN[:2], (2, 8, 8))
    text = report({"chain": chain, "short": other}, ratio=("red", "blue"))
    assert "== chain ==" in text
    assert "== side by side ==" in text
    assert "red / blue: parameters 76 / 38 = 2.000, MACs 1,152 / 2,304 = 0.500 (1/2.0)" in text
    rows = comparison_table({"chain": chain, "short": other}).rows
    assert rows[0] == ["parameters", "114", "38", "0.333"]
    assert rows[2] == ["receptive field at the output", "8x8", "3x3", ""]
    assert rows[3][2] == "-"  # the second network was not timed

    markdown = report({"chain": chain}, ratio=("red", "blue"), markdown=True)
    assert markdown.startswith("# lab2-analyze: chain\n")
    assert "## How to read the tables" in markdown
    assert "- red / blue:" in markdown
