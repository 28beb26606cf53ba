"""Keeping the paper hedge through replayed history: one keeper step per 8-hour bar.

The example portfolio (0.5 BTC and 8 ETH, isolated shorts at 5x) on a paper account whose
replay starts on 2024-02-26, before the March 2024 rally (BTC about 51,700 to 73,000 by
2024-03-13 in the stored marks): the hedge is opened, then 16 days are kept.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from perphedge.cli.wiring import Adapters
from perphedge.config import load_portfolio
from perphedge.errors import InputError
from perphedge.hedge.orders import ExecutionLimits
from perphedge.live.execute import LiveSession, RunOptions
from perphedge.live.session import Ports
from perphedge.services.hedge_run import journal_key, open_paper, preview_run, send_run
from perphedge.services.keep import keep_plan
from perphedge.services.paper import PaperReset, restart_paper
from perphedge.services.paper_keep import BAR_HOURS, keep_paper
from perphedge.store.journal import Journal
from perphedge.store.paths import home_dir

EXAMPLE = Path(__file__).resolve().parents[2] / "src/perphedge/data/examples/portfolio.toml"
RALLY_START_MS = 1708905600000  # 2024-02-26 00:00 UTC
HOUR_MS = 3600 * 1000
DAY_MS = 24 * HOUR_MS
MARKS_END_MS = 1778947200000  # 2026-05-16 16:00 UTC: the bundled 8-hour marks end there
LIMITS = ExecutionLimits(100_000.0, 10_000.0, 0.002, 120_000, 5.0, False)


@contextmanager
def _opened(start_ms: int) -> Iterator[tuple[Ports, LiveSession]]:
    """A new paper account replaying from `start_ms`, with the example's hedge open."""
    config = load_portfolio(EXAMPLE)
    adapters = Adapters()
    history, clock = adapters.history(), adapters.clock
    restart_paper(config, PaperReset("binance", False, start_ms), history, clock, home_dir())
    ports = open_paper(config, home_dir(), history, clock)
    with Journal.in_home() as journal:
        session = LiveSession(
            journal_key(ports), ports.account, ports.execution, ports.market, ports.clock,
            journal, home_dir(), RunOptions(poll_interval_s=0.05, order_timeout_s=5.0),
        )  # fmt: skip
        shown = preview_run(config, "open", session, LIMITS)
        send_run(config, shown, session, LIMITS, config.name)
        yield ports, session


@pytest.fixture
def paper() -> Iterator[tuple[Ports, LiveSession]]:
    with _opened(RALLY_START_MS) as opened:
        yield opened


def _plan(ports: Ports):
    config = load_portfolio(EXAMPLE)
    adapters = Adapters()
    return keep_plan(config, config.name, ports.market, adapters.history(), ports.clock).plan


def test_sixteen_days_through_the_rally_keep_both_shorts(paper) -> None:
    ports, session = paper
    ticks: list[tuple[int, int]] = []
    kept = keep_paper(ports, session, _plan(ports), 16 * 24, lambda n, t: ticks.append((n, t)))
    assert kept.ended_early is None
    assert len(kept.bars) == 48 == 16 * 24 / BAR_HOURS
    assert ticks == [(0, 48), *[(1, 48)] * 48]
    times = [bar.now_ms for bar in kept.bars]  # simulated time also moves with the wall clock
    assert times[0] == pytest.approx(RALLY_START_MS + 8 * HOUR_MS, abs=60_000)
    assert times[-1] == pytest.approx(RALLY_START_MS + 16 * 24 * HOUR_MS, abs=60_000)
    assert kept.counts.get("top_up", 0) >= 2  # the rally brought the liquidation price close
    assert "reopen" not in kept.counts  # never lost
    assert kept.acted and all(b.step.decision.actions or b.step.alerts for b in kept.acted)
    final = {leg.symbol: leg for leg in kept.bars[-1].step.decision.legs}
    assert final["BTC/USDT:USDT"].size == pytest.approx(0.5)
    assert final["ETH/USDT:USDT"].size == pytest.approx(8.0)
    held = {p.symbol: p for p in ports.account.positions(list(final))}
    assert held["BTC/USDT:USDT"].contracts < 0 and held["ETH/USDT:USDT"].contracts < 0
    # every top-up went to the paper exchange and is journaled as done
    moved = [m for m in session.journal.margin_moves(session.account_key) if m.status == "done"]
    assert len(moved) == kept.counts["top_up"]


def test_past_the_stored_prices_it_stops_and_says_so() -> None:
    with _opened(MARKS_END_MS - 4 * DAY_MS) as (ports, session):
        kept = keep_paper(ports, session, _plan(ports), 30 * 24)
        assert kept.ended_early is not None and "stored prices end" in kept.ended_early
        assert 3 <= len(kept.bars) < 30 * 3  # the bars before the end were kept
        assert kept.bars[-1].now_ms <= MARKS_END_MS + 2 * DAY_MS + 60_000  # the replay allows a gap
        # the failed bar moved nothing: simulated now is where the last bar left it
        assert ports.clock.now_ms() == pytest.approx(kept.bars[-1].now_ms, abs=60_000)


@pytest.mark.parametrize("hours", [0.0, -8.0, float("nan"), float("inf"), 91 * 24.0])
def test_a_span_out_of_range_is_refused(paper, hours: float) -> None:
    ports, session = paper
    with pytest.raises(InputError, match="days"):
        keep_paper(ports, session, _plan(ports), hours)
