"""Report files: self-contained, titled, with their inputs, explained, and thinned."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import numpy as np
import pytest

from perphedge.errors import InputError
from perphedge.report.html import ChartRun, MetricsTable, render_html, write_html
from perphedge.report.thin import POINT_BUDGET, common_step, on_grid
from tests.report_pages import figures

TIMES = np.array([1_704_067_200_000 + i * 28_800_000 for i in range(4)], np.int64)


class _Collector(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.script_srcs: list[str] = []
        self.cells: list[str] = []
        self._in_td = False

    def handle_starttag(self, tag, attrs):
        if tag == "script":
            self.script_srcs += [v or "" for k, v in attrs if k == "src"]
        self._in_td = tag == "td"

    def handle_data(self, data):
        if self._in_td:
            self.cells.append(data)
            self._in_td = False


def _page() -> str:
    runs = [
        ChartRun(
            "unhedged",
            np.array([1000.0, 1100.0, 990.0, 1012.5]),
            np.array([0.0, 0.0, -0.1, -0.0795454545]),
            np.zeros(4),
        ),
        ChartRun(
            "hedged",
            np.array([1000.0, 1000.25, 1000.5, 1000.75]),
            np.zeros(4),
            np.array([0.0, 0.25, 0.5, 0.75]),
            np.array([0.1, 0.123456, np.nan, 0.2]),
        ),
    ]
    metrics = MetricsTable(
        ("metric", "unhedged", "hedged"),
        (("total return", "1.25 %", "0.08 %"),),
        ("How much the whole account gained.",),
    )
    inputs = [("portfolio", "0.5 BTC")]
    return render_html("BTC <test>", TIMES, runs, metrics, ["spot held between closes"], inputs)


def test_page_is_self_contained_titled_and_explained():
    page = _page()
    parser = _Collector()
    parser.feed(page)
    parser.close()
    assert parser.script_srcs == []  # plotly.js inlined, nothing fetched
    assert not re.search(r"<script[^>]+src=[\"']?https?://", page)
    assert parser.cells[:4] == [
        "total return",
        "1.25 %",
        "0.08 %",
        "How much the whole account gained.",
    ]
    assert "<h1>BTC &lt;test&gt;</h1>" in page  # title escaped
    assert "<h2>Inputs</h2><dl><dt>portfolio</dt><dd>0.5 BTC</dd>" in page
    assert "spot held between closes" in page


def test_page_carries_the_series():
    (figure,) = figures(_page())
    by_name: dict[str, list] = {}
    for trace in figure["data"]:
        by_name.setdefault(trace["name"], []).append(trace)
    # unhedged: equity, drawdown, funding (no margin panel); hedged: all four panels
    assert len(by_name["unhedged"]) == 3 and len(by_name["hedged"]) == 4
    assert by_name["unhedged"][0]["y"] == [1000.0, 1100.0, 990.0, 1012.5]
    margin = by_name["hedged"][3]["y"]
    assert margin[:2] == pytest.approx([0.1, 0.123456]) and np.isnan(margin[2])
    assert by_name["unhedged"][0]["t_ms"] == list(TIMES)


def test_write_refuses_other_suffixes(tmp_path):
    with pytest.raises(InputError, match=r"--report.*PNG export is not offered"):
        write_html(tmp_path / "report.png", "<html></html>")
    with pytest.raises(InputError, match="does not exist"):
        write_html(tmp_path / "missing" / "r.html", "<html></html>")


def test_long_series_share_one_grid_within_the_budget():
    n = 50_001
    times = np.arange(n, dtype=np.int64) * 60_000
    equity = np.arange(n, dtype=np.float64)
    run = ChartRun("long", equity, np.zeros(n), equity)
    (figure,) = figures(render_html("long", times, [run], MetricsTable(("metric",), ())))
    traces = figure["data"]
    assert sum(len(t["y"]) for t in traces) <= POINT_BUDGET
    # 3 series of 50,001 points under a budget of 10,000: every 16th minute, ending on the last
    y = traces[0]["y"]
    assert len(y) == 3_126 and y[-1] == 50_000.0 and y[-2] == 49_984.0
    assert traces[0]["t_ms"][-1] == times[-1]


def test_grid_takes_the_last_value_at_or_before_each_point():
    ts = np.array([0, 10, 20, 35, 50], dtype=np.int64)
    cumulative = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    points = on_grid(ts, cumulative, 20)
    # grid ends on the last point: 10, 30, 50 -> values at 10, 20 (before 30), 50
    assert points.start_ms == 10 and list(points.values) == [2.0, 3.0, 5.0]
    assert common_step([1000, 1000], 10, budget=101) == 20  # 202 points need a doubled step
    assert common_step([1000], 10, budget=1000) == 10
