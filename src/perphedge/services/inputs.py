"""Market inputs of a portfolio: prices, contract specs (with tiers) and funding, each with its
as-of time and source.

Offline (no `live` port): a holding's price comes from the portfolio file, else the History port
(spot close, then perpetual mark); contracts from the bundled `perphedge.venues.contract_specs`;
the funding rate is the time-weighted mean of the stored settlements of that perpetual over the
trailing FUNDING_WINDOW_DAYS (per the contract's latest interval), else the exchange's 0.01 % per
8 h baseline (a note says so). With a `live` MarketData port (the exchange, or a replay of the
store): marks, contracts and funding come from it, and file prices still win for valuation.

A price or funding figure older than `stale_days` before `now_ms` gives a warning.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from perphedge.carry import JITTER_MS
from perphedge.config import PortfolioConfig
from perphedge.errors import DataError, ExchangeError, InputError, PerphedgeError
from perphedge.hedge.model import LegMarket
from perphedge.hedge.reserve import LegHistory
from perphedge.instruments import ContractKind, Perpetual
from perphedge.portfolio import Holding, Portfolio
from perphedge.ports import History, MarketData
from perphedge.symbols import perp_symbol, spot_symbol
from perphedge.units import utc_text
from perphedge.venues import contract_specs

BASELINE_RATE_PER_8H = 0.0001  # Binance/Bybit interest component: 0.01 % per 8 h
FUNDING_WINDOW_DAYS = 30  # planning rate: mean of the trailing month of settlements
STALE_DAYS = 7.0  # default: a stored figure older than this is warned about
MS_PER_DAY = 86_400_000


@dataclass(frozen=True)
class AsOf:
    """Where one input figure came from and when it applied (None: given, no time)."""

    subject: str  # "BTC price", "BTC/USDT:USDT funding", ...
    source: str
    ts_ms: int | None
    kind: str = "price"  # "price" (a price or mark) or "funding"


@dataclass(frozen=True)
class PlanInputs:
    """Resolved inputs: the portfolio (betas filled in), USD prices, markets per hedge asset.

    `unbundled`: hedge assets with no bundled offline contract spec (the venue may list them);
    `as_of`: every figure read from the store or the exchange; `warnings`: stale figures."""

    portfolio: Portfolio
    prices: dict[str, float]
    markets: dict[str, LegMarket | None]
    notes: tuple[str, ...]
    as_of: tuple[AsOf, ...] = ()
    unbundled: frozenset[str] = frozenset()
    warnings: tuple[str, ...] = ()


def day_text(ts_ms: int) -> str:
    """'2026-06-29 00:00 UTC'."""
    return utc_text(ts_ms)


def _store_price(history: History, exchange: str, asset: str) -> tuple[float, AsOf] | None:
    for symbol, kind in ((spot_symbol(asset), "spot"), (perp_symbol(asset), "mark")):
        try:
            ts_ms, price = history.latest_price(exchange, symbol, kind)
        except PerphedgeError:
            continue
        source = f"local store: {exchange} {symbol} {kind} close"
        return price, AsOf(f"{asset} price", source, ts_ms)
    return None


def _store_funding(
    history: History, exchange: str, inst: Perpetual
) -> tuple[float, float, AsOf] | None:
    try:
        rows = history.funding(exchange, inst.symbol)
    except PerphedgeError:
        return None
    if rows.ts_ms.size == 0:
        return None
    # One settlement is noise; plan on the time-weighted mean of the trailing window,
    # expressed per the contract's latest interval.
    # the settlements in (t - 30 d, t]: 90 of an 8-hour series (stamps may drift a few ms)
    recent = rows.ts_ms > rows.ts_ms[-1] - FUNDING_WINDOW_DAYS * MS_PER_DAY + JITTER_MS
    hours = float(rows.interval_hours[-1])
    per_hour = float(np.sum(rows.rate[recent]) / np.sum(rows.interval_hours[recent]))
    last = int(rows.ts_ms[-1])
    source = f"store, {FUNDING_WINDOW_DAYS}-day mean to {day_text(last)[:10]}"
    return per_hour * hours, hours, AsOf(f"{inst.symbol} funding", source, last, "funding")


def _baseline(inst: Perpetual) -> tuple[float, float, AsOf]:
    hours = inst.funding_interval_hours
    asof = AsOf(f"{inst.symbol} funding", "baseline (no data)", None, "funding")
    return BASELINE_RATE_PER_8H * hours / 8.0, hours, asof


def symbol_for(exchange: str, asset: str, kind: ContractKind) -> str:
    """The bundled spec's symbol of `asset`'s perpetual, else the usual ccxt one."""
    bundled = contract_specs.find(exchange, asset, kind)
    return bundled.symbol if bundled is not None else perp_symbol(asset, kind)


def _instrument(
    exchange: str, asset: str, kind: ContractKind, live: MarketData | None
) -> Perpetual | None:
    if live is None:
        return contract_specs.find(exchange, asset, kind)
    try:
        return live.instrument(symbol_for(exchange, asset, kind))
    except ExchangeError:  # unreachable or refusing: not "no perpetual for this coin"
        raise
    except PerphedgeError:
        return None


def _live_mark(live: MarketData, symbol: str) -> tuple[float, AsOf]:
    quote = live.mark_price(symbol)
    return float(quote.price), AsOf(f"{symbol} mark", f"{symbol} mark (live)", quote.ts_ms)


def _price(
    asset: str, exchange: str, history: History, live: MarketData | None
) -> tuple[float, AsOf] | None:
    if live is not None:
        try:
            return _live_mark(live, symbol_for(exchange, asset, ContractKind.LINEAR))
        except ExchangeError:
            raise
        except PerphedgeError:
            pass
    return _store_price(history, exchange, asset)


def _funding(
    inst: Perpetual, exchange: str, history: History, live: MarketData | None
) -> tuple[float, float, AsOf]:
    if live is not None:
        quote = live.funding_rate(inst.symbol)
        asof = AsOf(f"{inst.symbol} funding", "live", quote.ts_ms, "funding")
        return quote.rate_per_interval, quote.interval_hours, asof
    return _store_funding(history, exchange, inst) or _baseline(inst)


def _missing_price(cfg: PortfolioConfig, index: int, exchange: str, known: bool) -> PerphedgeError:
    holding = cfg.portfolio.holdings[index]
    if holding.proxy is None and not known:
        return InputError(
            f"{cfg.name}: holdings[{index}].asset",
            holding.asset,
            f"unknown asset: no perpetual on {exchange} and no price; add price = ... "
            '(and proxy = "BTC" with a beta to hedge it)',
        )
    return DataError(
        f"no price for {holding.asset}: add price = ... to the holding or run perphedge data sync"
    )


def _holding_prices(
    cfg: PortfolioConfig,
    exchange: str,
    instruments: dict[str, Perpetual | None],
    history: History,
    live: MarketData | None,
) -> tuple[dict[str, float], list[AsOf], list[str]]:
    prices = cfg.portfolio.given_prices()
    as_of: list[AsOf] = []
    notes: list[str] = []
    for index, holding in enumerate(cfg.portfolio.holdings):
        if holding.asset in prices:
            continue
        found = _price(holding.asset, exchange, history, live)
        if found is None:
            known = instruments.get(holding.asset) is not None
            raise _missing_price(cfg, index, exchange, known)
        prices[holding.asset] = found[0]
        as_of.append(found[1])
        notes.append(f"{holding.asset} priced at {found[0]:,.2f} from {_described(found[1])}")
    return prices, as_of, notes


def _leg_market(
    asset: str,
    inst: Perpetual,
    exchange: str,
    prices: dict[str, float],
    history: History,
    live: MarketData | None,
) -> tuple[LegMarket, list[AsOf], list[str]]:
    as_of: list[AsOf] = []
    notes: list[str] = []
    if live is not None:
        mark, mark_at = _live_mark(live, inst.symbol)
        as_of.append(mark_at)
    elif asset in prices:
        mark, mark_at = prices[asset], AsOf(f"{inst.symbol} mark", "the holding's price", None)
    else:
        found = _price(asset, exchange, history, live)
        if found is None:
            raise DataError(
                f"no price for {asset} (the proxy): add a holding or run perphedge data sync"
            )
        mark, mark_at = found[0], replace(found[1], subject=f"{inst.symbol} mark")
        as_of.append(mark_at)
        notes.append(f"{inst.symbol} priced at {mark:,.2f} from {_described(mark_at)}")
    rate, hours, funding_at = _funding(inst, exchange, history, live)
    if funding_at.ts_ms is not None:
        as_of.append(funding_at)
    market = LegMarket(inst, mark, rate, hours, funding_at.source, _described(mark_at))
    return market, as_of, notes


def _described(asof: AsOf) -> str:
    return asof.source if asof.ts_ms is None else f"{asof.source} at {day_text(asof.ts_ms)}"


def stale_warnings(as_of: tuple[AsOf, ...], now_ms: int, stale_days: float) -> tuple[str, ...]:
    """One line per figure older than `stale_days` at `now_ms`, naming its date and the fix."""
    out = []
    for item in as_of:
        if item.ts_ms is None:
            continue
        age_days = (now_ms - item.ts_ms) / MS_PER_DAY
        if age_days > stale_days:
            out.append(
                f"{item.subject} is {age_days:,.0f} days old ({item.source}, "
                f"{day_text(item.ts_ms)}); run perphedge data sync, or plan --live"
            )
    return tuple(out)


def resolve(
    cfg: PortfolioConfig,
    exchange: str,
    kind: ContractKind,
    history: History,
    live: MarketData | None = None,
) -> PlanInputs:
    """Prices, contracts and funding for `cfg` (see the module docstring)."""
    cfg, beta_notes = _estimated_betas(cfg, exchange, history)
    hedge_assets = list(dict.fromkeys(h.hedge_asset for h in cfg.portfolio.holdings))
    instruments = {a: _instrument(exchange, a, kind, live) for a in hedge_assets}
    prices, as_of, notes = _holding_prices(cfg, exchange, instruments, history, live)
    markets: dict[str, LegMarket | None] = {}
    unbundled: set[str] = set()
    for asset in hedge_assets:
        inst = instruments[asset]
        if inst is None:
            markets[asset] = None
            if live is None:  # the venue may list it: only the bundled specs lack it
                unbundled.add(asset)
            continue
        market, leg_as_of, leg_notes = _leg_market(asset, inst, exchange, prices, history, live)
        markets[asset] = market
        as_of += leg_as_of
        notes += leg_notes
    return PlanInputs(
        cfg.portfolio,
        prices,
        markets,
        tuple(beta_notes + notes),
        tuple(as_of),
        frozenset(unbundled),
    )


def _estimated_beta(
    holding: Holding, exchange: str, history: History
) -> tuple[Holding, str | None]:
    """`holding` with its proxy's beta estimated from the stored daily closes, when it can be."""
    from perphedge.beta import CiMethod
    from perphedge.services.beta import BetaRequest, estimate_beta

    if holding.proxy is None or holding.beta is not None:
        return holding, None
    request = BetaRequest(vs=holding.proxy, exchange=exchange, ci_method=CiMethod.FISHER_Z)
    try:
        est = estimate_beta(history, holding.asset, request).estimate
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
    cfg: PortfolioConfig, exchange: str, history: History
) -> tuple[PortfolioConfig, list[str]]:
    holdings = []
    notes = []
    for holding in cfg.portfolio.holdings:
        new, note = _estimated_beta(holding, exchange, history)
        holdings.append(new)
        notes += [note] if note else []
    return replace(cfg, portfolio=Portfolio(tuple(holdings))), notes


def leg_history(
    history: History, exchange: str, symbol: str, until_ms: int | None = None
) -> LegHistory | None:
    """Daily mark closes and funding settlements of `symbol` from the store, those before
    `until_ms` only when given (None: fewer than two daily marks)."""
    try:
        marks = history.prices(exchange, symbol, "mark", "1d", until_ms=until_ms)
    except PerphedgeError:
        return None
    if marks.ts_ms.size < 2:
        return None
    try:
        funding = history.funding(exchange, symbol, until_ms=until_ms)
        f_ms, rates = funding.ts_ms, funding.rate
    except PerphedgeError:
        f_ms, rates = np.zeros(0, dtype=np.int64), np.zeros(0)
    return LegHistory(symbol, marks.ts_ms, marks.close, f_ms, rates)
