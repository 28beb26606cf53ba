"""The backtest report: one HTML file with its inputs, the metrics explained and four charts.

Four panels share the time axis: equity, drawdown, cumulative funding and margin ratio
(maintenance margin / margin balance of the most stretched hedge leg; liquidation at 100 %).
Every series is resampled on one regular grid of whole bars under a point budget
(perphedge.report.thin), so years of 8-hour bars stay a small file; the metrics table carries
the exact figures. The file is self-contained (perphedge.report.page).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from perphedge.report.page import ReportPage, render_page, table_html, write_page
from perphedge.report.thin import common_step, on_grid
from perphedge.units import utc_text

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

PANELS = ("equity (USD)", "drawdown", "cumulative funding (USD)", "margin ratio (MM / balance)")
PALETTE = ("#636efa", "#ef553b", "#00cc96", "#ab63fa", "#ffa15a", "#19d3f3", "#ff6692")


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
    """Rows of formatted cells under `headers` (first column: the metric name); `explanations`
    (one per row, may be empty) say in plain words what each metric means."""

    headers: tuple[str, ...]
    rows: tuple[tuple[str, ...], ...]
    explanations: tuple[str, ...] = ()


def _iso(ts_ms: int) -> str:
    return utc_text(ts_ms, "%Y-%m-%d %H:%M")


def _series(run: ChartRun, times_ms: IntArray) -> list[tuple[int, IntArray, FloatArray]]:
    """(panel row, times, values) of the series this run has."""
    out = [(1, times_ms, run.equity), (2, times_ms, run.drawdown), (3, times_ms, run.cum_funding)]
    if run.margin_ratio is not None:
        times = times_ms if run.margin_times_ms is None else run.margin_times_ms
        out.append((4, np.asarray(times, dtype=np.int64), run.margin_ratio))
    return out


def backtest_figure(title: str, times_ms: IntArray, runs: Sequence[ChartRun]) -> go.Figure:
    """The four panels; every series on one grid of whole bars within the point budget."""
    fig = make_subplots(
        rows=4, cols=1, shared_xaxes=True, vertical_spacing=0.05, subplot_titles=PANELS
    )
    times = np.asarray(times_ms, dtype=np.int64)
    bar_ms = int(np.median(np.diff(times))) if times.size > 1 else 1
    series = [(run, *s) for run in runs for s in _series(run, times)]
    step = common_step([int(t[-1] - t[0]) for _, _, t, _ in series if t.size], max(bar_ms, 1))
    for i, run in enumerate(runs):
        color = PALETTE[i % len(PALETTE)]
        for row, at, values in _series(run, times):
            if not at.size:
                continue
            points = on_grid(at, values, step)
            fig.add_trace(
                go.Scatter(
                    x0=_iso(points.start_ms), dx=points.step_ms, y=points.values,
                    name=run.name, legendgroup=run.name, showlegend=row == 1,
                    line={"color": color, "width": 1.4}, mode="lines",
                ),
                row=row,
                col=1,
            )  # fmt: skip
    fig.update_xaxes(type="date")
    fig.update_yaxes(tickformat=".0%", row=2, col=1)
    fig.update_yaxes(tickformat=".0%", row=4, col=1)
    fig.update_layout(title=title, height=1100, hovermode="x unified", template="plotly_white")
    return fig


def metrics_html(metrics: MetricsTable) -> str:
    """The metrics table, with a 'what it means' column when explanations are given."""
    if not metrics.explanations:
        return table_html(metrics.headers, metrics.rows)
    rows = [(*row, words) for row, words in zip(metrics.rows, metrics.explanations, strict=True)]
    return table_html((*metrics.headers, "what it means"), rows, words_last=True)


def render_html(
    title: str,
    times_ms: IntArray,
    runs: Sequence[ChartRun],
    metrics: MetricsTable,
    notes: Sequence[str] = (),
    inputs: Sequence[tuple[str, str]] = (),
) -> str:
    """The whole report file as one string (plotly.js inlined once)."""
    page = ReportPage(
        title,
        inputs,
        (backtest_figure(title, times_ms, runs),),
        f"<h2>Metrics</h2>{metrics_html(metrics)}",
        notes=tuple(notes),
    )
    return render_page(page)


def write_html(path: Path, page: str) -> None:
    """Write the page; InputError naming --report when the path is not an .html file we can write."""
    write_page(path, page, "--report")
