"""Funding report service: what holding a short perpetual hedge earned or paid, per venue.

Reads stored funding settlements through the MarketHistory port (the local store: the bundled
real sample until `data sync` adds to it), computes
the carry statistics of perphedge.carry per symbol and venue, overall and by calendar year, and
ranks the venues over their common window. `tradable` names the venues perphedge can hedge on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from perphedge.carry import (
    CarryReport,
    RateSeries,
    VenueComparison,
    carry_report,
    compare_venues,
    short_funding,
)
from perphedge.errors import CapabilityError, DataError, InputError
from perphedge.exchanges.capabilities import require_for
from perphedge.ports import Coverage, MarketHistory
from perphedge.symbols import SymbolPattern, symbol_pattern
from perphedge.venues.registry import VENUES


@dataclass(frozen=True)
class VenueCarryResult:
    """One venue's perpetual: its carry report and the series it came from."""

    key: str  # the venue name, or "venue symbol" when a venue lists several matches
    exchange: str
    symbol: str
    report: CarryReport
    series: RateSeries

    @property
    def cumulative_short(self) -> npt.NDArray[np.float64]:
        """Cumulative funding of the short, fraction of notional (+ received)."""
        return np.cumsum(short_funding(self.series.rate))


@dataclass(frozen=True)
class SymbolCarry:
    """Every venue's carry for one requested symbol and their ranking."""

    text: str
    venues: tuple[VenueCarryResult, ...]
    comparison: VenueComparison
    skipped: tuple[str, ...]  # venues holding this symbol but nothing in the range


def _in_range(cov: Coverage, since_ms: int | None, until_ms: int | None) -> bool:
    return (since_ms is None or cov.last_ts_ms >= since_ms) and (
        until_ms is None or cov.first_ts_ms < until_ms
    )


def symbol_carry(
    store: MarketHistory,
    coverage: Sequence[Coverage],
    text: str,
    exchanges: Sequence[str],
    since_ms: int | None,
    until_ms: int | None,
) -> SymbolCarry:
    markets = funding_markets(symbol_pattern(text), exchanges, coverage)
    spans = {(c.exchange, c.symbol): c for c in coverage if c.dataset == "funding"}
    names = [ex for ex, _ in markets]
    results, skipped = [], []
    for exchange, symbol in markets:
        if not _in_range(spans[(exchange, symbol)], since_ms, until_ms) and not exchanges:
            skipped.append(exchange)
            continue
        try:
            fs = store.funding(exchange, symbol, since_ms, until_ms)
        except DataError:
            if exchanges:  # asked for by name: say why it is missing
                raise
            skipped.append(exchange)
            continue
        key = exchange if names.count(exchange) == 1 else f"{exchange} {symbol}"
        series = RateSeries(fs.ts_ms, fs.rate, fs.interval_hours)
        results.append(VenueCarryResult(key, exchange, symbol, carry_report(series), series))
    if not results:
        raise DataError(
            f"no funding for {text} in the chosen range on {', '.join(sorted(set(names)))}; "
            "widen --since/--until (run without them to see the stored period of each venue)"
        )
    comparison = compare_venues({r.key: r.series for r in results})
    return SymbolCarry(text, tuple(results), comparison, tuple(skipped))


def check_exchanges(names: Sequence[str], coverage: Sequence[Coverage], dataset: str) -> list[str]:
    """Lower-cased `names`, each one a venue the store holds `dataset` for; InputError otherwise."""
    known = sorted({c.exchange for c in coverage if c.dataset.startswith(dataset)})
    out = []
    for name in names:
        venue = name.strip().lower()
        if venue in VENUES and venue not in known:
            raise DataError(
                f"no {dataset} data stored for {venue}; run `perphedge data sync --exchange "
                f"{venue}` first (stored: {', '.join(known)})"
            )
        if venue not in known:
            raise InputError("--exchange", name, f"use one of {', '.join(known)}")
        out.append(venue)
    return out


def funding_markets(
    pattern: SymbolPattern, exchanges: Sequence[str], coverage: Sequence[Coverage]
) -> list[tuple[str, str]]:
    """(exchange, symbol) pairs with funding history matching `pattern` on `exchanges` (all if
    empty), sorted; DataError naming what is stored when there is none."""
    found = sorted(
        (c.exchange, c.symbol)
        for c in coverage
        if c.dataset == "funding"
        and pattern.matches(c.symbol)
        and (not exchanges or c.exchange in exchanges)
    )
    if found:
        return found
    stored = sorted({c.symbol for c in coverage if c.dataset == "funding"})
    where = f" on {', '.join(exchanges)}" if exchanges else ""
    if pattern.exact is not None and ":" not in pattern.exact:
        raise DataError(
            f"{pattern.text} is a spot market and has no funding; use a perpetual "
            f"such as {pattern.base}/USDT:USDT"
        )
    raise DataError(
        f"no funding history for {pattern.text}{where} in the store (perpetuals with funding: "
        f"{', '.join(stored)}); run `perphedge data sync` or pick one of those"
    )


@dataclass(frozen=True)
class FundingReport:
    """Every requested symbol's carry, the range asked for, and the venues perphedge can trade."""

    symbols: tuple[SymbolCarry, ...]
    since_ms: int | None
    until_ms: int | None
    tradable: frozenset[str]


def tradable_venues(names: Sequence[str]) -> frozenset[str]:
    """Those of `names` where `perphedge hedge` can open a short (see perphedge exchanges)."""
    out = set()
    for name in names:
        if name in VENUES:
            try:
                require_for("hedge", name)
            except CapabilityError:
                continue
            out.add(name)
    return frozenset(out)


def funding_report(
    store: MarketHistory,
    symbols: Sequence[str],
    exchanges: Sequence[str],
    since_ms: int | None,
    until_ms: int | None,
) -> FundingReport:
    """Carry of a short hedge on each of `symbols` per venue (`exchanges`: empty for all)."""
    coverage = store.available()
    for name in exchanges:  # a registered venue must serve funding history (perphedge exchanges)
        if name.strip().lower() in VENUES:
            require_for("funding", name)
    venues = check_exchanges(exchanges, coverage, "funding")
    results = tuple(symbol_carry(store, coverage, s, venues, since_ms, until_ms) for s in symbols)
    names = {v.exchange for r in results for v in r.venues}
    return FundingReport(results, since_ms, until_ms, tradable_venues(sorted(names)))
