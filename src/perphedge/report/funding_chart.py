"""Cumulative funding of a short hedge per venue: one plotly chart, thinned.

Every line is resampled on one regular grid of whole days (perphedge.report.thin): the running
sum is exact at each grid point, and three coins on eight venues over six years stay a small
file. `write_chart` writes a report file (perphedge.report.page); PNG is not offered.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import numpy.typing as npt
import plotly.graph_objects as go

from perphedge.report.page import ReportPage, render_page, write_page
from perphedge.report.thin import common_step, on_grid
from perphedge.units import utc_text

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
DAY_MS = 86_400_000


@dataclass(frozen=True, eq=False)
class CumulativeLine:
    """One venue's running sum of short-side funding, as a fraction of notional."""

    name: str
    ts_ms: IntArray
    cumulative: FloatArray


def _iso(ts_ms: int) -> str:
    return utc_text(ts_ms, "%Y-%m-%d %H:%M")


def figure(title: str, lines: Sequence[CumulativeLine], subtitle: str) -> go.Figure:
    """The lines on one grid of whole days (more days per point when there are many lines)."""
    spans = [int(line.ts_ms[-1] - line.ts_ms[0]) for line in lines if line.ts_ms.size]
    step = common_step(spans, DAY_MS)
    fig = go.Figure()
    for line in lines:
        if not line.ts_ms.size:
            continue
        points = on_grid(line.ts_ms, line.cumulative, step)
        fig.add_trace(
            go.Scatter(
                x0=_iso(points.start_ms),
                dx=points.step_ms,
                y=points.values,
                name=line.name,
                mode="lines",
            )
        )
    fig.update_layout(
        title={"text": f"{title}<br><sup>{subtitle}</sup>"},
        xaxis={"type": "date"},
        yaxis={"title": "cumulative funding received by the short (% of notional)"},
        yaxis_tickformat=".1%",
        hovermode="x unified",
        template="plotly_white",
    )
    return fig


def write_chart(
    path: Path,
    fig: go.Figure,
    title: str,
    inputs: Sequence[tuple[str, str]],
    explanations: Sequence[tuple[str, str]] = (),
    tables_html: str = "",
) -> Path:
    """Write `fig` as a report file (.html, opens offline); InputError naming --plot otherwise."""
    page = ReportPage(title, inputs, (fig,), tables_html, explanations)
    return write_page(path, render_page(page), "--plot")
