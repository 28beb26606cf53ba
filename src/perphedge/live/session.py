"""Open the ports a live command needs: the paper exchange offline, or a real venue's adapter.

`--paper`: `PaperExchange` (account state in PERPHEDGE_HOME/paper/<exchange>.json) on prices
replayed from the market store (`StoreMarketData`) at a simulated clock (`ReplayClock`) shared by
every command. Coin-margined (inverse) contracts have their own paper account,
paper/<exchange>-coinm.json with its own clock, as venues keep COIN-M apart from USDⓈ-M: it is
created holding the coins given as `deposits` (the portfolio's coins); with `--live-prices` on the venue's public live prices and the wall clock
(paper/<exchange>-live.json). Otherwise the ccxt adapters of `perphedge.exchanges` with keys from the
environment or the OS keyring (never printed, logged or written by perphedge).
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import Any

from perphedge.clocks import ManualClock
from perphedge.errors import CapabilityError, DataError
from perphedge.exchanges.paper import PaperExchange
from perphedge.exchanges.paper_state import PaperSettings, paper_path
from perphedge.exchanges.replay import ReplayClock, StoreMarketData, replay_start
from perphedge.ports import Account, Clock, Execution, MarketData
from perphedge.venues.registry import venue


@dataclass
class Ports:
    exchange: str
    paper: bool
    account: Account
    execution: Execution
    market: MarketData
    clock: Clock
    notes: tuple[str, ...] = ()  # said once per command (e.g. a stand-in for the mark)
    # the account the journal keys fills and funding by: the venue for a real account, "paper:"
    # + the paper account + its tag for a paper one (each reset is a new account)
    account_id: str = ""
    # a new replay that could not start where asked (the plan's time): where it started, and why
    start_note: str | None = None

    def __post_init__(self) -> None:
        if not self.account_id:
            self.account_id = f"paper:{self.exchange}" if self.paper else self.exchange


COIN_MARGINED = "-coinm"


def paper_account(exchange: str, coin_margined: bool) -> str:
    """Name of the paper account: "binance" (USDT-margined) or "binance-coinm"."""
    return f"{exchange}{COIN_MARGINED}" if coin_margined else exchange


def paper_ports(  # noqa: PLR0913 (keyword options of one account)
    exchange: str,
    home: Path,
    symbols: Sequence[str],
    coin_margined: bool = False,
    deposits: Mapping[str, Decimal] | None = None,
    *,
    initial_usdt: Decimal | None = None,
    start_ms: int | None = None,
    as_of_ms: int | None = None,
    wall: Clock | None = None,
    spot_usdt: Decimal | None = None,
) -> Ports:
    """The paper account of `exchange` on replayed prices (see the module docstring).

    `deposits` (coin -> amount) fund a new coin-margined account, `initial_usdt` a new
    USDT-margined one. A new replay starts at `start_ms` (paper reset --at), else at `as_of_ms`
    (the plan's prices) as far as the stored marks reach (`replay_start`). An existing account
    and its clock are kept as they are.
    `wall`: the wall clock simulated time runs with (default the system's); `spot_usdt` funds
    a new account's spot wallet.
    """
    from perphedge.store.market import MarketStore

    store = MarketStore()
    account = paper_account(exchange, coin_margined)
    clock_path = paper_path(home, account).with_suffix(".clock.json")
    market = StoreMarketData(store, exchange, ManualClock(0))
    start, start_note = 0, None
    available = [s for s in symbols if _has_marks(market, s)]
    if not clock_path.exists():
        if not available:
            raise DataError(
                f"no stored mark prices for {', '.join(symbols)} on {exchange}: "
                "run perphedge data sync first"
            )
        start, start_note = replay_start(market, available, as_of_ms)
        if start_ms is not None:
            start, start_note = start_ms, None
    clock = ReplayClock(clock_path, start, wall)
    market.clock = clock
    coins = tuple(sorted((deposits or {}).items())) if coin_margined else None
    settings = PaperSettings(deposits=coins)
    if initial_usdt is not None:
        settings = PaperSettings(initial_usdt=initial_usdt, deposits=coins)
    if spot_usdt:
        settings = replace(settings, spot_usdt=spot_usdt)
    paper = PaperExchange(
        paper_path(home, account), market, clock, settings, funding_events=market.funding_events
    )
    tag = f"paper:{account}:{paper.account_uid()}"
    return Ports(account, True, paper, paper, market, clock, tuple(market.notes), tag, start_note)


def paper_live_ports(exchange: str, home: Path, base_url: str | None = None) -> Ports:
    """A paper account that fills on the venue's live public prices (no API key needed).

    Its state is kept apart from the replayed one: paper/<exchange>-live.json.
    """
    name = venue(exchange).name
    try:
        market_mod: Any = importlib.import_module("perphedge.exchanges.market_data")
        client_mod: Any = importlib.import_module("perphedge.exchanges.client")
    except ImportError:
        raise CapabilityError(f"no market-data adapter for {name}; use --paper alone") from None
    from perphedge.clocks import SystemClock

    public = client_mod.make_exchange(name, "linear", base_url=base_url, use_keyring=False)
    if base_url:  # a local test exchange: no client-side pacing needed
        public.enableRateLimit = False
    data = market_mod.CcxtMarketData(name, "linear", exchange=public, base_url=base_url)
    clock = SystemClock()
    paper = PaperExchange(paper_path(home, f"{name}-live"), data, clock)
    tag = f"paper:{name}-live:{paper.account_uid()}"
    return Ports(f"{name}-live", True, paper, paper, data, clock, (), tag)


def _has_marks(market: StoreMarketData, symbol: str) -> bool:
    try:
        market.last_mark_ms(symbol)
    except DataError:
        return False
    return True


def live_ports(exchange: str, base_url: str | None = None, market: str = "linear") -> Ports:
    """The venue's ccxt adapters; CapabilityError when this installation has none.

    `market`: "linear" (USDT-margined) or "inverse" (coin-margined). `base_url` points the
    unmodified ccxt client at another server (tests on 127.0.0.1).
    """
    name = venue(exchange).name
    try:
        account_mod: Any = importlib.import_module("perphedge.exchanges.ccxt_account")
        client_mod: Any = importlib.import_module("perphedge.exchanges.client")
        market_mod: Any = importlib.import_module("perphedge.exchanges.market_data")
    except ImportError:
        raise CapabilityError(
            f"no exchange adapter for {name} in this installation; use --paper"
        ) from None
    from perphedge.clocks import SystemClock

    ccxt_exchange = client_mod.make_exchange(name, market, base_url=base_url)
    if base_url:  # a local test exchange: no client-side pacing needed
        ccxt_exchange.enableRateLimit = False
    account = account_mod.CcxtAccount(ccxt_exchange)
    data = market_mod.CcxtMarketData(name, market, exchange=ccxt_exchange, base_url=base_url)
    return Ports(name, False, account, account, data, SystemClock())
