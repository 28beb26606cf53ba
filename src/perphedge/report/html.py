"""One self-contained HTML page for a backtest: interactive charts and the metrics table.

The page inlines plotly.js (no CDN, no network needed to open it) and one figure with four
panels sharing the time axis: equity, drawdown, cumulative funding and margin ratio (maintenance
margin / margin balance of the most stretched hedge leg; liquidation at 100 %). Series are written
as plain JSON numbers so the data can be read back from the page; a series longer than
`MAX_POINTS` keeps every k-th point and its last one, so the page stays light.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import plotly.graph_objects as go
import plotly.io as pio
from plotly.subplots import make_subplots

from perphedge.errors import InputError

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

PANELS = ("equity (USD)", "drawdown", "cumulative funding (USD)", "margin ratio (MM / balance)")


@dataclass(frozen=True)
class ChartRun:
    """One run's series on the common time axis; `margin_ratio` None for runs without a hedge."""

    name: str
    equity: FloatArray
    drawdown: FloatArray
    cum_funding: FloatArray
    margin_ratio: FloatArray | None = None
    margin_times_ms: IntArray | None = None  # when the margin ratio is sampled (default: all)


@dataclass(frozen=True)
class MetricsTable:
    """Rows of formatted cells under `headers` (first column: the metric name)."""

    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]


def _iso(times_ms: IntArray) -> list[str]:
    return [
        datetime.fromtimestamp(int(t) / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M") for t in times_ms
    ]


def _values(series: FloatArray) -> list[float | None]:
    """Plain floats (NaN/inf -> None) so the page carries readable JSON numbers."""
    return [float(v) if np.isfinite(v) else None for v in np.asarray(series, dtype=np.float64)]


MAX_POINTS = 20_000  # per series; longer series keep every k-th point and the last one


def _thin(values: list[Any]) -> list[Any]:
    """At most MAX_POINTS evenly strided values, always ending with the last one."""
    if len(values) <= MAX_POINTS:
        return values
    step = -(-len(values) // MAX_POINTS)
    kept = values[::step]
    return kept if (len(values) - 1) % step == 0 else [*kept[:-1], values[-1]]


def _panels(run: ChartRun, x: list[str]) -> list[tuple[int, list[str], FloatArray]]:
    """(panel row, x labels, y values) of the series this run has."""
    out = [(1, x, run.equity), (2, x, run.drawdown), (3, x, run.cum_funding)]
    if run.margin_ratio is not None:
        times = run.margin_times_ms
        out.append((4, x if times is None else _iso(times), run.margin_ratio))
    return out


def _figure(title: str, times_ms: IntArray, runs: Sequence[ChartRun]) -> go.Figure:
    fig = make_subplots(
        rows=4, cols=1, shared_xaxes=True, vertical_spacing=0.05, subplot_titles=PANELS
    )
    x = _iso(times_ms)
    palette = ("#636efa", "#ef553b", "#00cc96", "#ab63fa", "#ffa15a", "#19d3f3", "#ff6692")
    for i, run in enumerate(runs):
        color = palette[i % len(palette)]
        for row, xs, series in _panels(run, x):
            fig.add_trace(
                go.Scatter(
                    x=_thin(xs),
                    y=_values(np.asarray(_thin(list(series)), dtype=np.float64)),
                    name=run.name,
                    legendgroup=run.name,
                    showlegend=row == 1,
                    line={"color": color, "width": 1.4},
                    mode="lines",
                ),
                row=row,
                col=1,
            )
    fig.update_yaxes(tickformat=".0%", row=2, col=1)
    fig.update_yaxes(tickformat=".0%", row=4, col=1)
    fig.update_layout(title=title, height=1100, hovermode="x unified", template="plotly_white")
    return fig


def _table_html(metrics: MetricsTable) -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in metrics.headers)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(cell)}</td>" for cell in row) + "</tr>"
        for row in metrics.rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}"
    "table{border-collapse:collapse;margin:1em 0}"
    "td,th{border:1px solid #ccc;padding:.3em .7em;text-align:right}"
    "td:first-child,th:first-child{text-align:left}"
    "th{background:#f3f3f3}"
)


def render_html(
    title: str,
    times_ms: IntArray,
    runs: Sequence[ChartRun],
    metrics: MetricsTable,
    notes: Sequence[str] = (),
) -> str:
    """The whole page as one string (plotly.js inlined)."""
    chart = pio.to_html(
        _figure(title, times_ms, runs), include_plotlyjs=True, full_html=False, div_id="charts"
    )
    note_items = "".join(f"<li>{html.escape(n)}</li>" for n in notes)
    notes_html = f"<ul>{note_items}</ul>" if note_items else ""
    return (
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'>"
        f"<title>{html.escape(title)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{html.escape(title)}</h1>{_table_html(metrics)}{notes_html}{chart}"
        "</body></html>\n"
    )


def write_html(path: Path, page: str) -> None:
    """Write the page; InputError naming --report when the path is not an .html file we can write."""
    if path.suffix.lower() not in {".html", ".htm"}:
        raise InputError("--report", str(path), "give a file name ending in .html")
    try:
        path.write_text(page, encoding="utf-8")
    except OSError as bad:
        raise InputError("--report", str(path), f"cannot write it ({bad.strerror})") from None
