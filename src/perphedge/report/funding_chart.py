"""Cumulative funding of a short hedge per venue: one plotly chart, as self-contained HTML or PNG.

The HTML inlines plotly.js (opens offline). PNG needs plotly's static-image engine (kaleido); when
it is missing or cannot run offline the error says to use an .html file instead.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import numpy.typing as npt
import plotly.graph_objects as go

from perphedge.errors import CapabilityError, InputError

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, eq=False)
class CumulativeLine:
    """One venue's running sum of short-side funding, as a fraction of notional."""

    name: str
    ts_ms: IntArray
    cumulative: FloatArray


def figure(title: str, lines: Sequence[CumulativeLine], subtitle: str) -> go.Figure:
    fig = go.Figure()
    for line in lines:
        x = [datetime.fromtimestamp(int(t) / 1000, tz=UTC) for t in line.ts_ms]
        fig.add_trace(go.Scatter(x=x, y=line.cumulative.tolist(), name=line.name, mode="lines"))
    fig.update_layout(
        title={"text": f"{title}<br><sup>{subtitle}</sup>"},
        yaxis={"title": "cumulative funding received by the short (% of notional)"},
        yaxis_tickformat=".1%",
        hovermode="x unified",
        template="plotly_white",
    )
    return fig


def write_chart(path: Path, fig: go.Figure) -> Path:
    """Write `fig` to `path` (.html self-contained, or .png); errors name --plot."""
    suffix = path.suffix.lower()
    if suffix not in {".html", ".htm", ".png"}:
        raise InputError("--plot", str(path), "give a file name ending in .html (or .png)")
    if not path.parent.is_dir():
        raise InputError("--plot", str(path), f"the folder {path.parent} does not exist")
    if suffix == ".png":
        try:
            fig.write_image(str(path))
        except Exception as e:  # kaleido missing, or it wants to download a browser
            raise CapabilityError(
                f"cannot write PNG {path} ({type(e).__name__}: static export needs kaleido "
                "and a local browser); use --plot FILE.html instead, which opens offline"
            ) from e
        return path
    try:
        fig.write_html(str(path), include_plotlyjs=True, full_html=True)
    except OSError as e:
        raise InputError("--plot", str(path), f"cannot write the file: {e.strerror}") from e
    return path
