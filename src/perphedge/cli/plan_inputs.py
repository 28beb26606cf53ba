"""Market inputs for `plan` and `stress`: prices, contracts and funding, offline or live.

Offline (default): a holding's price comes from the portfolio file, else the local market store
(spot close, then perpetual mark); contracts from the bundled `perphedge.venues.contract_specs`;
the funding rate is the time-weighted mean of the store's settlements of that perpetual over the
trailing FUNDING_WINDOW_DAYS (per the contract's latest interval), else the
exchange's 0.01 % per 8 h baseline (the plan says so in a note).
`--live`: marks, contracts (with tiers) and funding come from a `perphedge.ports.MarketData`
adapter for the exchange (`open_live`: perphedge.exchanges.market_data), and file prices still win for valuation.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Protocol, cast

import numpy as np
import numpy.typing as npt

from perphedge.config import PortfolioConfig
from perphedge.errors import DataError, ExchangeError, InputError, PerphedgeError
from perphedge.hedge.sizing import LegMarket
from perphedge.instruments import ContractKind, Perpetual
from perphedge.portfolio import Holding, Portfolio
from perphedge.ports import MarketData
from perphedge.venues import contract_specs

BASELINE_RATE_PER_8H = 0.0001  # Binance/Bybit interest component: 0.01 % per 8 h
FUNDING_WINDOW_DAYS = 30  # planning rate: mean of the trailing month of settlements


class FundingRows(Protocol):
    """Funding settlements, oldest first (perphedge.store.market.FundingSeries)."""

    @property
    def ts_ms(self) -> npt.NDArray[np.int64]: ...
    @property
    def rate(self) -> npt.NDArray[np.float64]: ...
    @property
    def interval_hours(self) -> npt.NDArray[np.float64]: ...


class PriceSource(Protocol):
    """What the planner reads from the local market store."""

    def latest_price(self, exchange: str, symbol: str, kind: str = "mark") -> tuple[int, float]: ...

    def funding(self, exchange: str, symbol: str) -> FundingRows: ...


def open_store() -> PriceSource:
    """The local market store (reads the bundled real sample until data is synced)."""
    from perphedge.store.market import MarketStore

    return cast(PriceSource, MarketStore())


def open_live(exchange: str, kind: ContractKind) -> MarketData:
    """The exchange adapter's MarketData port (ccxt; USDⓈ-M style or coin-margined client)."""
    from perphedge.exchanges.market_data import CcxtMarketData

    return CcxtMarketData(exchange, "inverse" if kind is ContractKind.INVERSE else "linear")


@dataclass(frozen=True)
class PlanInputs:
    """Resolved inputs: the portfolio (betas filled in), USD prices, markets per hedge asset."""

    portfolio: Portfolio
    prices: dict[str, float]
    markets: dict[str, LegMarket | None]
    notes: tuple[str, ...]


def _day(ts_ms: int) -> str:
    return datetime.fromtimestamp(ts_ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


def linear_symbol(asset: str) -> str:
    return f"{asset}/USDT:USDT"


def _store_price(store: PriceSource, exchange: str, asset: str) -> tuple[float, str] | None:
    for symbol, kind in ((f"{asset}/USDT", "spot"), (linear_symbol(asset), "mark")):
        try:
            ts_ms, price = store.latest_price(exchange, symbol, kind)
        except PerphedgeError:
            continue
        return price, f"local store: {exchange} {symbol} {kind} close at {_day(ts_ms)}"
    return None


def _store_funding(
    store: PriceSource, exchange: str, inst: Perpetual
) -> tuple[float, float, str] | None:
    try:
        rows = store.funding(exchange, inst.symbol)
    except PerphedgeError:
        return None
    if rows.ts_ms.size == 0:
        return None
    # One settlement is noise; plan on the time-weighted mean of the trailing window,
    # expressed per the contract's latest interval.
    recent = rows.ts_ms >= rows.ts_ms[-1] - FUNDING_WINDOW_DAYS * 86_400_000
    hours = float(rows.interval_hours[-1])
    per_hour = float(np.sum(rows.rate[recent]) / np.sum(rows.interval_hours[recent]))
    day = _day(int(rows.ts_ms[-1]))[:10]
    return per_hour * hours, hours, f"store, {FUNDING_WINDOW_DAYS}-day mean to {day}"


def _baseline(inst: Perpetual) -> tuple[float, float, str]:
    hours = inst.funding_interval_hours
    return BASELINE_RATE_PER_8H * hours / 8.0, hours, "baseline (no data)"


def _symbol_for(exchange: str, asset: str, kind: ContractKind) -> str:
    bundled = contract_specs.find(exchange, asset, kind)
    if bundled is not None:
        return bundled.symbol
    return linear_symbol(asset) if kind is ContractKind.LINEAR else f"{asset}/USD:{asset}"


def _instrument(
    exchange: str, asset: str, kind: ContractKind, live: MarketData | None
) -> Perpetual | None:
    if live is None:
        return contract_specs.find(exchange, asset, kind)
    try:
        return live.instrument(_symbol_for(exchange, asset, kind))
    except ExchangeError:  # unreachable or refusing: not "no perpetual for this coin"
        raise
    except PerphedgeError:
        return None


def _live_mark(live: MarketData, symbol: str) -> tuple[float, str]:
    quote = live.mark_price(symbol)
    return float(quote.price), f"{symbol} mark at {_day(quote.ts_ms)} (live)"


def _price(
    asset: str, exchange: str, store: PriceSource, live: MarketData | None
) -> tuple[float, str] | None:
    if live is not None:
        try:
            return _live_mark(live, _symbol_for(exchange, asset, ContractKind.LINEAR))
        except ExchangeError:
            raise
        except PerphedgeError:
            pass
    return _store_price(store, exchange, asset)


def _funding(
    inst: Perpetual, exchange: str, store: PriceSource, live: MarketData | None
) -> tuple[float, float, str]:
    if live is not None:
        quote = live.funding_rate(inst.symbol)
        return quote.rate_per_interval, quote.interval_hours, f"live at {_day(quote.ts_ms)}"
    return _store_funding(store, exchange, inst) or _baseline(inst)


def _holding_prices(
    cfg: PortfolioConfig,
    exchange: str,
    instruments: dict[str, Perpetual | None],
    store: PriceSource,
    live: MarketData | None,
) -> tuple[dict[str, float], list[str]]:
    prices = cfg.portfolio.given_prices()
    notes = []
    for index, holding in enumerate(cfg.portfolio.holdings):
        if holding.asset in prices:
            continue
        found = _price(holding.asset, exchange, store, live)
        if found is not None:
            prices[holding.asset] = found[0]
            notes.append(f"{holding.asset} priced at {found[0]:,.2f} from {found[1]}")
        elif holding.proxy is None and instruments.get(holding.asset) is None:
            raise InputError(
                f"{cfg.name}: holdings[{index}].asset",
                holding.asset,
                f"unknown asset: no perpetual on {exchange} and no price; add price = ... "
                '(and proxy = "BTC" with a beta to hedge it)',
            )
        else:
            raise DataError(
                f"no price for {holding.asset}: add price = ... to the holding "
                "or run perphedge data sync"
            )
    return prices, notes


def resolve(
    cfg: PortfolioConfig,
    exchange: str,
    kind: ContractKind,
    store: PriceSource,
    live: MarketData | None = None,
) -> PlanInputs:
    """Prices, contracts and funding for `cfg` (see the module docstring)."""
    cfg, beta_notes = _estimated_betas(cfg, exchange, store)
    hedge_assets = list(dict.fromkeys(h.hedge_asset for h in cfg.portfolio.holdings))
    instruments = {a: _instrument(exchange, a, kind, live) for a in hedge_assets}
    prices, notes = _holding_prices(cfg, exchange, instruments, store, live)
    markets: dict[str, LegMarket | None] = {}
    for asset in hedge_assets:
        inst = instruments[asset]
        if inst is None:
            markets[asset] = None
            if live is None:  # the venue may list it: only the bundled specs lack it
                notes.append(
                    f"{asset}: no {exchange} {kind.value} contract spec is bundled; "
                    "plan --live reads the exchange's"
                )
            continue
        if live is not None:
            mark, mark_source = _live_mark(live, inst.symbol)
        elif asset in prices:
            mark, mark_source = prices[asset], "the holding's price"
        else:
            found = _price(asset, exchange, store, live)
            if found is None:
                raise DataError(
                    f"no price for {asset} (the proxy): add a holding or run perphedge data sync"
                )
            mark, mark_source = found
            notes.append(f"{inst.symbol} priced at {mark:,.2f} from {mark_source}")
        rate, hours, funding_source = _funding(inst, exchange, store, live)
        markets[asset] = LegMarket(inst, mark, rate, hours, funding_source, mark_source)
    return PlanInputs(cfg.portfolio, prices, markets, tuple(beta_notes + notes))


def _estimated_beta(
    holding: Holding, exchange: str, store: PriceSource
) -> tuple[Holding, str | None]:
    """`holding` with its proxy's beta estimated from the store's daily closes, when it can be."""
    from perphedge.beta import CiMethod
    from perphedge.cli.beta import BetaRequest, estimate_beta
    from perphedge.store.market import MarketStore

    if holding.proxy is None or holding.beta is not None or not isinstance(store, MarketStore):
        return holding, None
    request = BetaRequest(vs=holding.proxy, exchange=exchange, ci_method=CiMethod.FISHER_Z)
    try:
        est = estimate_beta(store, holding.asset, request).estimate
    except PerphedgeError:
        return holding, None
    if not 0 < est.beta <= 10:
        return holding, f"{holding.asset}: estimated beta {est.beta:.3f} is unusable; beta 1 used"
    note = (
        f"{holding.asset}: beta {est.beta:.3f} vs {holding.proxy} estimated from {est.n_obs} "
        f"daily returns in the local store (hedge effectiveness {est.hedge_effectiveness:.0%}); "
        "write beta = ... in the file to fix it"
    )
    return replace(holding, beta=est.beta), note


def _estimated_betas(
    cfg: PortfolioConfig, exchange: str, store: PriceSource
) -> tuple[PortfolioConfig, list[str]]:
    holdings = []
    notes = []
    for holding in cfg.portfolio.holdings:
        new, note = _estimated_beta(holding, exchange, store)
        holdings.append(new)
        notes += [note] if note else []
    return replace(cfg, portfolio=Portfolio(tuple(holdings))), notes
