"""The backtest HTML page: self-contained, carries the data, parses."""

from __future__ import annotations

import json
import re
from html.parser import HTMLParser

import numpy as np
import pytest

from perphedge.errors import InputError
from perphedge.report.html import ChartRun, MetricsTable, render_html, write_html

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
        ("metric", "unhedged", "hedged"), (("total return", "1.25 %", "0.08 %"),)
    )
    return render_html("BTC <test>", TIMES, runs, metrics, ["spot held between daily closes"])


def test_page_is_self_contained_and_parses():
    page = _page()
    parser = _Collector()
    parser.feed(page)
    parser.close()
    assert parser.script_srcs == []  # plotly.js inlined, nothing fetched
    assert not re.search(r"<script[^>]+src=[\"']?https?://", page)
    assert "Plotly.newPlot" in page
    assert parser.cells[:3] == ["total return", "1.25 %", "0.08 %"]
    assert "BTC &lt;test&gt;" in page  # title escaped
    assert "spot held between daily closes" in page


def test_page_carries_the_series_as_numbers():
    page = _page()
    call = page[page.index("Plotly.newPlot(") :]
    traces, _ = json.JSONDecoder().raw_decode(call[call.index("[") :])
    by_name = {}
    for trace in traces:
        by_name.setdefault(trace["name"], []).append(trace["y"])
    # unhedged: equity, drawdown, funding (no margin panel); hedged: all four panels
    assert len(by_name["unhedged"]) == 3 and len(by_name["hedged"]) == 4
    assert by_name["unhedged"][0] == [1000.0, 1100.0, 990.0, 1012.5]
    assert by_name["hedged"][3] == [0.1, 0.123456, None, 0.2]  # NaN -> null
    assert traces[0]["x"][1] == "2024-01-01 08:00"


def test_write_refuses_other_suffixes(tmp_path):
    with pytest.raises(InputError, match="--report"):
        write_html(tmp_path / "report.png", "<html></html>")
    with pytest.raises(InputError, match="cannot write"):
        write_html(tmp_path / "missing" / "r.html", "<html></html>")


def test_long_series_are_thinned_keeping_the_last_point():
    n = 50_001
    times = np.arange(n, dtype=np.int64) * 60_000
    equity = np.arange(n, dtype=np.float64)
    run = ChartRun("long", equity, np.zeros(n), equity)
    page = render_html("long", times, [run], MetricsTable(("metric",), ()))
    call = page[page.index("Plotly.newPlot(") :]
    traces, _ = json.JSONDecoder().raw_decode(call[call.index("[") :])
    y = traces[0]["y"]
    # step = ceil(50,001 / 20,000) = 3: points 0, 3, ..., 49,995, and the last one (50,000)
    # in place of 49,998: 16,667 points, under the 20,000 cap
    assert len(y) == 16_667
    assert y[:3] == [0.0, 3.0, 6.0] and y[-2:] == [49_995.0, 50_000.0]
    assert len(traces[0]["x"]) == len(y)
