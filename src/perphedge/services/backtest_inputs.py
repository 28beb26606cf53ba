"""What a backtest needs, read through the MarketHistory port and aligned by backtest.data.

For each held coin: its spot candles (`COIN/USDT`) on the hedge's exchange, else on Binance. For
each hedge perpetual: funding settlements, mark candles with their highs and lows (else the
perpetual's last-trade candles, with a note) and last-trade candles where stored. Of the
intervals stored for a series, the one that covers most of the requested range is used (the
finer one on a tie). Alignment rules live in `perphedge.backtest.data`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from perphedge.backtest.data import (
    DAY_MS,
    AlignedMarket,
    FundingInput,
    InstrumentInputs,
    PriceInput,
    align,
    fmt_ms,
)
from perphedge.errors import DataError
from perphedge.ports import Coverage, MarketHistory
from perphedge.store.market import interval_ms

SPOT_FALLBACK_EXCHANGE = "binance"
LOOKBACK_MS = 2 * DAY_MS  # load a little before --from so the first grid time has a price


def spot_symbol(asset: str) -> str:
    return f"{asset}/USDT"


def _pick_interval(
    coverage: Sequence[Coverage], exchange: str, symbol: str, kind: str, since: int, until: int
) -> str | None:
    """The stored interval of (exchange, symbol, kind) covering most of [since, until]."""
    best: tuple[int, int, str] | None = None
    for cov in coverage:
        if (cov.exchange, cov.symbol) != (exchange, symbol):
            continue
        family, _, interval = cov.dataset.partition(":")
        if family != kind or not interval:
            continue
        length = interval_ms(interval)
        overlap = min(cov.last_ts_ms + length, until) - max(cov.first_ts_ms + length, since)
        key = (overlap, -length, interval)
        if best is None or key[:2] > best[:2]:
            best = key
    return None if best is None or best[0] < 0 else best[2]


def _prices(
    store: MarketHistory,
    exchange: str,
    symbol: str,
    kind: str,
    interval: str,
    span: tuple[int, int],
) -> PriceInput:
    series = store.prices(exchange, symbol, kind, interval, span[0] - LOOKBACK_MS, span[1] + 1)
    name = f"{exchange} {symbol} {kind} {interval}"
    return PriceInput(
        name, series.ts_ms, series.close, interval_ms(interval), series.high, series.low
    )


def _spot(
    store: MarketHistory,
    coverage: Sequence[Coverage],
    exchange: str,
    asset: str,
    span: tuple[int, int],
) -> tuple[PriceInput, str | None]:
    symbol = spot_symbol(asset)
    for venue in dict.fromkeys((exchange, SPOT_FALLBACK_EXCHANGE)):
        interval = _pick_interval(coverage, venue, symbol, "spot", *span)
        if interval is not None:
            note = None if venue == exchange else f"{asset} spot prices from {venue}"
            return _prices(store, venue, symbol, "spot", interval, span), note
    venues = " or ".join(dict.fromkeys((exchange, SPOT_FALLBACK_EXCHANGE)))
    raise DataError(
        f"no spot prices for {symbol} on {venues} between {fmt_ms(span[0])} and "
        f"{fmt_ms(span[1])}: pick a range inside the data (perphedge data list) or run "
        "perphedge data sync"
    )


def _instrument(
    store: MarketHistory,
    coverage: Sequence[Coverage],
    exchange: str,
    symbol: str,
    span: tuple[int, int],
) -> tuple[InstrumentInputs, str | None]:
    fund = store.funding(exchange, symbol, span[0], span[1] + 1)
    funding = FundingInput(
        f"{exchange} {symbol} funding", fund.ts_ms, fund.rate, fund.mark, fund.interval_hours
    )
    picks = {k: _pick_interval(coverage, exchange, symbol, k, *span) for k in ("mark", "perp")}
    perp = None
    if picks["perp"] is not None:
        perp = _prices(store, exchange, symbol, "perp", picks["perp"], span)
    note = None
    if picks["mark"] is not None:
        mark = _prices(store, exchange, symbol, "mark", picks["mark"], span)
    elif perp is not None:  # the last-trade series stands in for the mark (and fills at it)
        mark, perp = perp, None
        note = f"{exchange} {symbol}: no mark prices stored, last-trade price used as the mark"
    else:
        raise DataError(
            f"no mark or perpetual prices for {exchange} {symbol} in the range: "
            "run perphedge data sync or pick another range"
        )
    return InstrumentInputs(funding, mark, perp), note


def load_aligned(
    store: MarketHistory,
    exchange: str,
    assets: Sequence[str],
    hedge_symbols: Sequence[str],
    since_ms: int,
    until_ms: int,
    *,
    strict: bool = False,
) -> AlignedMarket:
    """Spot of each coin in `assets` and each perpetual in `hedge_symbols`, on one grid."""
    if since_ms > until_ms:  # before any query, so the message names the options
        align([], [], since_ms, until_ms)
    coverage = store.available()
    span = (since_ms, until_ms)
    notes: list[str] = []
    spots = []
    for asset in assets:
        spot, note = _spot(store, coverage, exchange, asset, span)
        spots.append(spot)
        notes += [note] if note else []
    instruments = []
    for symbol in hedge_symbols:
        inst, note = _instrument(store, coverage, exchange, symbol, span)
        instruments.append(inst)
        notes += [note] if note else []
    aligned = align(instruments, spots, since_ms, until_ms, strict=strict)
    return dataclasses.replace(aligned, notes=(*notes, *aligned.notes))
