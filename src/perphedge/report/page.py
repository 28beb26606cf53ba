"""A report as one HTML file: its title, what went in, the charts, the tables, and every figure
in plain words. `--report` (backtest) and `--plot` (funding, stress) write it.

Self-contained: plotly.js is inlined once, so the file opens without a network; charts carry
their data as typed arrays (see perphedge.report.thin), so a long history stays a small file.
PNG is not offered: static image export needs a browser engine perphedge does not ship.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import plotly.graph_objects as go
from plotly.offline import get_plotlyjs

from perphedge.errors import InputError

STYLE = (
    "body{font-family:system-ui,sans-serif;margin:1.5em auto;max-width:1100px;padding:0 1em;"
    "color:#1d2430}h1{font-size:1.5em}h2{font-size:1.15em;margin-top:1.6em}"
    "table{border-collapse:collapse;margin:.6em 0}td,th{border-bottom:1px solid #d8dde5;"
    "padding:.3em .6em;text-align:right}td:first-child,th:first-child{text-align:left}"
    "th{background:#eef1f5}dt{font-weight:600;margin-top:.5em}dd{margin:0 0 0 0}"
    ".muted{color:#5b6575}.scroll{overflow-x:auto}td.words{text-align:left;min-width:16em}"
)


@dataclass(frozen=True)
class ReportPage:
    """What a report file shows. `tables_html` is trusted HTML built by report views (escaped)."""

    title: str
    inputs: Sequence[tuple[str, str]]
    figures: Sequence[go.Figure] = ()
    tables_html: str = ""
    explanations: Sequence[tuple[str, str]] = ()
    notes: Sequence[str] = field(default_factory=tuple)


def table_html(
    headers: Sequence[str], rows: Sequence[Sequence[str]], words_last: bool = False
) -> str:
    """An escaped HTML table (first column left-aligned; with `words_last` the last one too,
    for a column of sentences)."""
    head = "".join(f"<th>{html.escape(h)}</th>" for h in headers)
    last = len(headers) - 1 if words_last else -1
    body = "".join(
        "<tr>"
        + "".join(
            f"<td{' class=words' if i == last else ''}>{html.escape(str(c))}</td>"
            for i, c in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<div class='scroll'><table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>"


def _definition_list(items: Sequence[tuple[str, str]]) -> str:
    return (
        "<dl>"
        + "".join(
            f"<dt>{html.escape(term)}</dt><dd>{html.escape(words)}</dd>" for term, words in items
        )
        + "</dl>"
    )


def _figure_html(index: int, figure: go.Figure) -> str:
    """The figure's JSON in a data block, drawn by a two-line script."""
    div = f"chart-{index}"
    data = figure.to_json().replace("</", "<\\/")  # no early end of the script element
    return (
        f"<div id='{div}' class='chart'></div>"
        f"<script type='application/json' id='{div}-data'>{data}</script>"
        f"<script>(function(){{var f=JSON.parse(document.getElementById('{div}-data')"
        f".textContent);Plotly.newPlot('{div}',f.data,f.layout,"
        "{responsive:true,displaylogo:false});})();</script>"
    )


def render_page(page: ReportPage) -> str:
    """The whole file as one string."""
    inputs = _definition_list(page.inputs)
    charts = "".join(_figure_html(i, fig) for i, fig in enumerate(page.figures))
    notes = "".join(f"<li>{html.escape(n)}</li>" for n in page.notes)
    words = _definition_list(page.explanations)
    return (
        "<!DOCTYPE html>\n<html lang='en'><head><meta charset='utf-8'>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<title>{html.escape(page.title)}</title><style>{STYLE}</style>"
        f"<script>{get_plotlyjs()}</script></head><body>"
        f"<h1>{html.escape(page.title)}</h1><h2>Inputs</h2>{inputs}{charts}{page.tables_html}"
        + (f"<h2>What the numbers mean</h2>{words}" if page.explanations else "")
        + (f"<h2>Notes</h2><ul class='muted'>{notes}</ul>" if notes else "")
        + "</body></html>\n"
    )


def write_page(path: Path, text: str, option: str) -> Path:
    """Write a report file; InputError naming `option` unless it is an .html file we can write."""
    if path.suffix.lower() not in {".html", ".htm"}:
        raise InputError(
            option,
            str(path),
            "give a file name ending in .html (it opens offline in any browser; PNG export is "
            "not offered)",
        )
    if not path.parent.is_dir():
        raise InputError(option, str(path), f"the folder {path.parent} does not exist")
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as bad:
        raise InputError(option, str(path), f"cannot write it ({bad.strerror})") from None
    return path
