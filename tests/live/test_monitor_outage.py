"""`monitor` through outages: it backs off and keeps running, alerts once when the exchange has
been unreachable for --alert-after refreshes (terminal, log, webhook), and says when it is back;
`--once` with the exchange unreachable alerts and exits 4 (in test_cli_hedge)."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from perphedge.clocks import ManualClock
from perphedge.errors import TemporaryExchangeError
from perphedge.live.monitor import Snapshot, Thresholds
from perphedge.live.outage import Outage
from perphedge.live.watch import AlertSinks, watch

T0 = 1_700_000_000_000


class StopLoopError(Exception):
    pass


def reader(failures: int, clock: ManualClock) -> Callable[[], Snapshot]:
    """A snapshot source that fails `failures` times (503s), then answers."""
    calls = [0]

    def read() -> Snapshot:
        calls[0] += 1
        clock.now += 60_000
        if calls[0] <= failures:
            raise TemporaryExchangeError("binance: fetch positions failed (503); try again later")
        return Snapshot(clock.now, "binance", "p", (), 1000.0, 0.01, ())

    return read


def test_an_outage_longer_than_the_retries_alerts_once_and_the_loop_keeps_running(
    tmp_path: Path,
) -> None:
    clock = ManualClock(T0)
    said: list[str] = []
    naps: list[float] = []
    shown: list[Snapshot] = []

    def nap(seconds: float) -> None:
        naps.append(seconds)

    def show(snap: Snapshot) -> None:
        shown.append(snap)
        raise StopLoopError  # end the loop after the first good refresh

    sinks = AlertSinks(tmp_path, "p", "binance", None, said.append)
    with pytest.raises(StopLoopError):
        watch(reader(8, clock), show, Thresholds(), sinks, clock, nap, 60.0, Outage("binance"))
    # eight failed refreshes: waits double from 1 s, capped at the 60 s interval; never exits
    assert naps == [1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 60.0, 60.0]
    alerts = [line for line in said if line.startswith("ALERT")]
    assert len(alerts) == 2  # unreachable once (after the 3rd failure), then reachable again
    assert "exchange unreachable since 2023-11-14 22:14:20 UTC (3 failed" in alerts[0]
    assert alerts[1].startswith("ALERT reachable binance: exchange reachable again after 8.0 min")
    logged = [
        json.loads(line)
        for line in (tmp_path / "logs" / "monitor.log").read_text().split("\n")
        if line
    ]
    assert [a["code"] for a in logged] == ["unreachable", "reachable"]
    assert len(shown) == 1
