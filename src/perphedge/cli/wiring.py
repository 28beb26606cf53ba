"""The adapters the commands use, built in one place and replaceable as a whole.

`Adapters` holds a factory per port: the local market store (History, MarketHistory for
backtests and funding reports, the writable store for the data commands), a venue's MarketData
(ccxt), the clock (also the wall clock a replayed paper account's simulated time runs with), and
the wait of the monitor and keep loops. `perphedge.cli.app.main(argv, adapters)` runs the
commands with the given
set (tests pass fakes of the ports); every command reads it through `current()`. Factories import
their adapter on first use, so a command that needs no exchange never imports ccxt.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from perphedge.clocks import SystemClock
from perphedge.instruments import ContractKind
from perphedge.ports import Clock, History, MarketData, MarketHistory

if TYPE_CHECKING:
    from perphedge.store.market import MarketStore


def open_store() -> History:
    """The local market store (reads the bundled real sample until data is synced), each
    series read once per command."""
    from perphedge.store.market import MarketStore
    from perphedge.store.memo import MemoHistory

    return MemoHistory(MarketStore())


def open_market_store(path: Path | None = None) -> MarketStore:
    """The local market store at `path` (default: PERPHEDGE_HOME's): read whole by backtests and
    funding reports (MarketHistory), written by `data sync` and `data import`."""
    from perphedge.store.market import MarketStore

    return MarketStore(path)


def open_live(exchange: str, kind: ContractKind) -> MarketData:
    """The exchange adapter's MarketData port (ccxt; USDⓈ-M style or coin-margined client)."""
    from perphedge.exchanges.market_data import CcxtMarketData

    return CcxtMarketData(exchange, "inverse" if kind is ContractKind.INVERSE else "linear")


@dataclass(frozen=True)
class Adapters:
    """One factory per port; defaults are the real adapters."""

    history: Callable[[], History] = open_store
    market_history: Callable[[Path | None], MarketHistory] = open_market_store
    market_store: Callable[[Path | None], MarketStore] = open_market_store
    live_market: Callable[[str, ContractKind], MarketData] = open_live
    clock: Clock = field(default_factory=SystemClock)
    sleep: Callable[[float], None] = time.sleep  # the wait between a loop's refreshes


_CURRENT: ContextVar[Adapters | None] = ContextVar("perphedge_adapters", default=None)


def current() -> Adapters:
    """The adapters of the running command (the real ones unless `using` said otherwise)."""
    return _CURRENT.get() or Adapters()


@contextmanager
def using(adapters: Adapters | None) -> Iterator[None]:
    """Run the block with `adapters` (None: the real ones)."""
    token = _CURRENT.set(adapters)
    try:
        yield
    finally:
        _CURRENT.reset(token)
