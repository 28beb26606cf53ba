"""Fakes and helpers for the live tests: a fixed-price market, a paper account, a session."""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from perphedge.clocks import ManualClock
from perphedge.errors import DataError
from perphedge.exchanges.paper import PaperExchange
from perphedge.exchanges.paper_state import PaperSettings
from perphedge.instruments import Perpetual
from perphedge.live.execute import LiveSession, RunOptions
from perphedge.live.reconcile import compare_with_journal
from perphedge.live.session import live_ports
from perphedge.ports import FundingRateQuote, PriceQuote
from perphedge.store import crashpoint
from perphedge.store.journal import Journal
from perphedge.venues import contract_specs

BTC = "BTC/USDT:USDT"
ETH = "ETH/USDT:USDT"
T0 = 1_700_000_000_000  # 2023-11-14 22:13:20 UTC
HOUR = 3_600_000


@dataclass
class StaticMarket:
    """MarketData port with prices and funding rates the test sets."""

    clock: ManualClock
    marks: dict[str, Decimal] = field(
        default_factory=lambda: {BTC: Decimal(60000), ETH: Decimal(3000)}
    )
    rates: dict[str, float] = field(default_factory=lambda: {BTC: 0.0001, ETH: 0.0001})
    stale_ms: int = 0

    def mark_price(self, symbol: str) -> PriceQuote:
        return PriceQuote(symbol, self.marks[symbol], self.clock.now_ms() - self.stale_ms)

    def instrument(self, symbol: str) -> Perpetual:
        if symbol not in self.marks:
            raise DataError(f"no market {symbol}")
        return contract_specs.by_symbol("binance", symbol)

    def funding_rate(self, symbol: str) -> FundingRateQuote:
        return FundingRateQuote(symbol, self.rates[symbol], 8.0, None, self.clock.now_ms())


def make_paper(
    home: Path, clock: ManualClock, market: StaticMarket, ratio: float = 1.0, usdt: int = 20_000
) -> PaperExchange:
    settings = PaperSettings(slippage=0.0005, partial_fill_ratio=ratio, initial_usdt=Decimal(usdt))
    return PaperExchange(home / "paper" / "binance.json", market, clock, settings)


def binance_session(base_url: str, home: Path, journal: Journal) -> LiveSession:
    """A session on the fake Binance at `base_url` through the real ccxt adapter (keys from the
    environment), polling without sleeping."""
    ports = live_ports("binance", base_url)
    return LiveSession(
        ports.exchange, ports.account, ports.execution, ports.market, ports.clock, journal,
        home, sleep=lambda _s: None, account_id=ports.account_id,
    )  # fmt: skip


def make_session(
    home: Path,
    paper: PaperExchange,
    journal: Journal,
    options: RunOptions | None = None,
) -> LiveSession:
    return LiveSession(
        "paper:binance",
        paper,
        paper,
        paper.market,
        paper.clock,
        journal,
        home,
        options or RunOptions(poll_interval_s=1.0, order_timeout_s=0.0),
        sleep=lambda _s: None,
    )


def positions(account: PaperExchange) -> dict[str, Decimal]:
    return {p.symbol: p.contracts for p in account.positions([BTC, ETH])}


def assert_agree(journal: Journal, paper: PaperExchange) -> None:
    """Journal and exchange agree: same orders, same fills, nothing unknown on either side."""
    assert compare_with_journal(journal, paper) == []
    sent = {o.client_order_id for o in journal.orders() if o.exchange_order_id is not None}
    on_exchange = [o.client_order_id for o in paper.all_orders()]
    assert len(on_exchange) == len(set(on_exchange))  # every order exists once
    assert set(on_exchange) == sent
    exchange_fills = {f.trade_id for s in (BTC, ETH) for f in paper.fills(s, 0)}
    assert {f.trade_id for f in journal.fills()} == exchange_fills


def run_forked(run: Callable[[Path], None], home: Path, crash_after: int | None) -> int:
    """`run(home)` in a forked child; its exit code (137 when it crashed on purpose after its
    `crash_after`-th durable write, 1 on an unexpected error, 0 when it finished)."""
    pid = os.fork()
    if pid == 0:  # child
        code = 0
        try:
            if crash_after is not None:
                os.environ[crashpoint.ENV_VAR] = str(crash_after)
            run(home)
        except BaseException:
            traceback.print_exc()
            code = 1
        finally:
            os._exit(code)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status)
