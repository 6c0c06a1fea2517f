"""Tables of an analysis: for the terminal, for Markdown and as CSV.

Everything here returns text; the entry point decides where it goes.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from lab2.analysis.fields import Extent, Field
from lab2.analysis.summary import LayerAnalysis, NetworkAnalysis


@dataclass(frozen=True)
class Table:
    """Headers and rows of text; the first ``left`` columns are words, the rest numbers."""

    headers: list[str]
    rows: list[list[str]]
    left: int = 1


LEGEND = [
    "output: height x width x channels; a flat layer's features.",
    "MACs: multiply-accumulates for one image, by formula; pooling, ReLU and batch norm do "
    "none (their cost shows only in the time).",
    "field: the receptive field in input pixels, height x width, by the recurrence, padding "
    "counted as image; jump: pixels between the fields of neighbouring units (- where a "
    "layer has a single unit per map, as a fully connected layer does).",
    "measured: the field of one unit found by back-propagating from it with all-positive "
    "weights and input (max pooling averaged), as the extent of the non-zero gradient. The "
    "unit is the one nearest the centre whose field lies inside the image, so the border cuts "
    "nothing off.",
    "(clipped): no unit's field lies inside the image at this input size (or it reaches into "
    "padding); the measurement is then checked against an enumeration of the windows.",
    "time: the median forward time of the layer for one batch on this machine, beside its "
    "share of the total; compare it with the share of MACs.",
]


def layer_table(analysis: NetworkAnalysis) -> Table:
    """One row per layer and a total row.

    Example:
        >>> from lab2.analysis.summary import analyze_network
        >>> table = layer_table(analyze_network([{"type": "conv", "out_channels": 2,
        ...                                       "kernel_size": 3}], (1, 5, 5)))
        >>> table.rows[0][:6]
        ['conv1', 'Conv2d', '3x3x2', '20', '20', '162']
    """
    headers = ["layer", "type", "output", "params", "cum. params", "MACs", "cum. MACs", "MACs %"]
    headers += ["field", "jump", "measured", "time ms", "time %"]
    timed = analysis.seconds is not None
    rows = []
    for layer in analysis.layers:
        rows.append(
            [
                layer.name,
                layer.kind,
                _shape(layer.output_shape),
                f"{layer.parameters:,}",
                f"{layer.total_parameters:,}",
                f"{layer.macs:,}",
                f"{layer.total_macs:,}",
                _percent(layer.macs, analysis.macs),
                _size(layer.field),
                _jump(layer.field),
                _measured(layer),
                f"{layer.seconds * 1e3:.3f}" if timed else "-",
                _percent(layer.seconds, analysis.seconds) if timed else "-",
            ]
        )
    total_time = _milliseconds(analysis.seconds)
    parameters, macs, field = (
        f"{analysis.parameters:,}",
        f"{analysis.macs:,}",
        _size(analysis.output_field),
    )
    rows.append(["total", "", "", parameters, "", macs, "", "100.0", field, "", "", total_time, ""])
    return Table(headers, rows, left=2)


def comparison_table(analyses: Mapping[str, NetworkAnalysis]) -> Table:
    """Two or more networks side by side; with two, the second over the first.

    Example:
        One 5x5 convolution against two 3x3 ones, 'same' padding, on an 8x8 image:

        >>> from lab2.analysis.summary import analyze_network
        >>> conv = {"type": "conv", "out_channels": 1, "padding": "same"}
        >>> one = analyze_network([{**conv, "kernel_size": 5}], (1, 8, 8))
        >>> two = analyze_network([{**conv, "kernel_size": 3}, {**conv, "kernel_size": 3}],
        ...                       (1, 8, 8))
        >>> for row in comparison_table({"5x5": one, "3x3+3x3": two}).rows:
        ...     print(row)
        ['parameters', '26', '20', '0.769']
        ['MACs per image', '1,600', '1,152', '0.720']
        ['receptive field at the output', '5x5', '5x5', '']
        ['measured time per batch, ms', '-', '-', '-']
    """
    names = list(analyses)
    results = list(analyses.values())
    figures = [
        ("parameters", [r.parameters for r in results], "{:,}"),
        ("MACs per image", [r.macs for r in results], "{:,}"),
        ("measured time per batch, ms", [_ms(r.seconds) for r in results], "{:.3f}"),
    ]
    headers = ["", *names]
    if len(results) == 2:
        headers.append(f"{names[1]} / {names[0]}")
    rows = []
    for label, values, form in figures:
        row = [label] + ["-" if v is None else form.format(v) for v in values]
        if len(results) == 2:
            row.append(_ratio(values[1], values[0]))
        rows.append(row)
    fields = [_size(r.output_field) for r in results]
    rows.insert(2, ["receptive field at the output", *fields] + [""] * (len(results) == 2))
    return Table(headers, rows)


def check_lines(analysis: NetworkAnalysis) -> list[str]:
    """What the second ways of finding each figure say: agreement, or each disagreement.

    Example:
        >>> from lab2.analysis.summary import analyze_network
        >>> for line in check_lines(analyze_network([{"type": "maxpool", "kernel_size": 2}],
        ...                                         (1, 4, 4))):
        ...     print(line)
        checks: all 1 layers agree: measured = analytic receptive field, formula = torch's MACs
    """
    wrong = [layer for layer in analysis.layers if not layer.agrees]
    if not wrong:
        return [
            f"checks: all {len(analysis.layers)} layers agree: measured = analytic receptive "
            "field, formula = torch's MACs"
        ]
    return [
        f"check FAILED at {layer.name}: field {_size(layer.field)}, predicted extent "
        f"{layer.predicted}, measured {layer.measured}; MACs {layer.macs:,} by formula, "
        f"{layer.counted_macs:,} by torch"
        for layer in wrong
    ]


def ratio_line(analysis: NetworkAnalysis, numerator: str, denominator: str) -> str | None:
    """How layer ``numerator`` compares with layer ``denominator`` (Ex 2.16: red over blue),
    or ``None`` when the network lacks either.

    Example:
        >>> from lab2.analysis.summary import analyze_network
        >>> conv = {"type": "conv", "out_channels": 4, "kernel_size": 3}
        >>> net = analyze_network(
        ...     [{**conv, "name": "big"}, {**conv, "stride": 2, "name": "small"}], (1, 10, 10))
        >>> ratio_line(net, "small", "big")
        'small / big: parameters 148 / 40 = 3.700, MACs 1,296 / 2,304 = 0.562 (1/1.8)'
    """
    names = {layer.name for layer in analysis.layers}
    if numerator not in names or denominator not in names:
        return None
    top, bottom = analysis.layer(numerator), analysis.layer(denominator)
    line = (
        f"{numerator} / {denominator}: parameters {top.parameters:,} / {bottom.parameters:,} = "
        f"{_ratio(top.parameters, bottom.parameters)}, MACs {top.macs:,} / {bottom.macs:,} = "
        f"{_ratio(top.macs, bottom.macs)}{_inverse(top.macs, bottom.macs)}"
    )
    if top.seconds is not None and bottom.seconds is not None:
        line += (
            f", measured time {top.seconds * 1e3:.3f} / {bottom.seconds * 1e3:.3f} ms = "
            f"{_ratio(top.seconds, bottom.seconds)}{_inverse(top.seconds, bottom.seconds)}"
        )
    return line


def render_text(table: Table) -> str:
    """The table aligned in columns for a terminal, words left and numbers right.

    Example:
        >>> print(render_text(Table(["name", "n"], [["a", "1"], ["bb", "22"]])))
        name  n
        ---- --
        a     1
        bb   22
    """
    widths = [
        max(len(row[i]) for row in [table.headers, *table.rows]) for i in range(len(table.headers))
    ]

    def line(cells: Sequence[str]) -> str:
        parts = [
            cell.ljust(width) if i < table.left else cell.rjust(width)
            for i, (cell, width) in enumerate(zip(cells, widths, strict=True))
        ]
        return " ".join(parts).rstrip()

    rule = " ".join("-" * width for width in widths)
    return "\n".join([line(table.headers), rule, *(line(row) for row in table.rows)])


def render_markdown(table: Table) -> str:
    """The table in GitHub Markdown.

    Example:
        >>> print(render_markdown(Table(["name", "n"], [["a", "1"]])))
        | name | n |
        | :-- | --: |
        | a | 1 |
    """
    align = [":--" if i < table.left else "--:" for i in range(len(table.headers))]
    lines = [table.headers, align, *table.rows]
    return "\n".join("| " + " | ".join(cells) + " |" for cells in lines)


def to_csv(analyses: Mapping[str, NetworkAnalysis]) -> str:
    """Every figure of every layer of every network, one row per layer, unformatted.

    Example:
        >>> from lab2.analysis.summary import analyze_network
        >>> text = to_csv({"one": analyze_network(
        ...     [{"type": "conv", "out_channels": 2, "kernel_size": 3}], (1, 5, 5))})
        >>> text.splitlines()[1].split(",")[:8]
        ['one', 'conv1', 'Conv2d', '3x3x2', '20', '20', '162', '162']
    """
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for model, analysis in analyses.items():
        for layer in analysis.layers:
            writer.writerow(_csv_row(model, analysis, layer))
    return out.getvalue()


CSV_COLUMNS = [
    "model",
    "layer",
    "type",
    "output",  # height x width x channels, as in the table
    "parameters",
    "total_parameters",
    "macs",
    "counted_macs",
    "total_macs",
    "mac_share",
    "field_h",
    "field_w",
    "jump_h",
    "jump_w",
    "start_h",
    "start_w",
    "unit_row",
    "unit_column",
    "measured_first_h",
    "measured_last_h",
    "measured_first_w",
    "measured_last_w",
    "clipped",
    "agrees",
    "time_ms",
    "time_share",
    "batch_size",
    "repeats",
]


def _csv_row(model: str, analysis: NetworkAnalysis, layer: LayerAnalysis) -> list:
    height, width = layer.field
    (first_h, last_h), (first_w, last_w) = (_pair(e) for e in layer.measured)
    timed = layer.seconds is not None
    return [
        model,
        layer.name,
        layer.kind,
        _shape(layer.output_shape),
        layer.parameters,
        layer.total_parameters,
        layer.macs,
        layer.counted_macs,
        layer.total_macs,
        layer.macs / analysis.macs if analysis.macs else "",
        height.size,
        width.size,
        height.jump,
        width.jump,
        height.start,
        width.start,
        *layer.unit,
        first_h,
        last_h,
        first_w,
        last_w,
        layer.clipped,
        layer.agrees,
        layer.seconds * 1e3 if timed else "",
        layer.seconds / analysis.seconds if timed and analysis.seconds else "",
        analysis.batch_size if timed else "",
        analysis.repeats,
    ]


def _pair(extent: Extent | None) -> tuple:
    return ("", "") if extent is None else extent


def _shape(shape: Sequence[int]) -> str:
    # The lab writes maps as height x width x channels (26x26x25).
    if len(shape) == 3:
        channels, height, width = shape
        return f"{height}x{width}x{channels}"
    return "x".join(str(s) for s in shape)


def _size(field: tuple[Field, Field]) -> str:
    return f"{field[0].size}x{field[1].size}"


def _jump(field: tuple[Field, Field]) -> str:
    # One unit per map has no neighbour to be a jump away.
    if field[0].positions == field[1].positions == 1:
        return "-"
    return f"{field[0].jump}x{field[1].jump}"


def _measured(layer: LayerAnalysis) -> str:
    sizes = ["0" if e is None else str(e[1] - e[0] + 1) for e in layer.measured]
    text = "x".join(sizes)
    if not layer.fields_agree:
        return text + " (MISMATCH)"
    return text + " (clipped)" if layer.clipped else text


def _percent(part: float | None, whole: float | None) -> str:
    if part is None or not whole:
        return "-"
    return f"{100 * part / whole:.1f}"


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1e3


def _milliseconds(seconds: float | None) -> str:
    return "-" if seconds is None else f"{seconds * 1e3:.3f}"


def _ratio(top: float | None, bottom: float | None) -> str:
    if top is None or bottom is None or bottom == 0:
        return "-"
    return f"{top / bottom:.3f}"


def _inverse(top: float, bottom: float) -> str:
    # "1/8.0" reads better than 0.125 when the lab's claim is "about 1/8".
    return f" (1/{bottom / top:.1f})" if 0 < top < bottom else ""


def report(
    analyses: Mapping[str, NetworkAnalysis],
    *,
    ratio: tuple[str, str] | None = None,
    markdown: bool = False,
) -> str:
    """The whole report: per network its setting, table, checks and ``ratio`` line; with
    several networks, the comparison; in Markdown, a title and the legend too.

    Args:
        analyses: the networks by name, in the order to show them.
        ratio: two layer names to compare where a network has both (Ex 2.16: red, blue).
        markdown: Markdown for ``analysis.md`` rather than text for a terminal.
    """
    render = render_markdown if markdown else render_text
    blocks = [f"# lab2-analyze: {' vs '.join(analyses)}"] if markdown else []
    for name, analysis in analyses.items():
        heading = f"## {name}" if markdown else f"== {name} =="
        lines = [*check_lines(analysis)]
        if ratio is not None and (line := ratio_line(analysis, *ratio)) is not None:
            lines.append(line)
        if markdown:
            lines = [f"- {line}" for line in lines]
        body = "\n\n".join([render(layer_table(analysis)), "\n".join(lines)])
        blocks.append(f"{heading}\n\n{_setting(analysis)}\n\n{body}")
    if len(analyses) > 1:
        heading = "## Side by side" if markdown else "== side by side =="
        blocks.append(f"{heading}\n\n{render(comparison_table(analyses))}")
    if markdown:
        legend = "\n".join(f"- {line}" for line in LEGEND)
        blocks.append(f"## How to read the tables\n\n{legend}")
    return "\n\n".join(blocks) + "\n"


def _setting(analysis: NetworkAnalysis) -> str:
    channels, height, width = analysis.input_shape
    text = f"input {height}x{width}x{channels}"
    if analysis.repeats:
        text += (
            f"; time: median of {analysis.repeats} forward passes of a batch of "
            f"{analysis.batch_size} on {analysis.threads} CPU thread(s)"
        )
    return text
