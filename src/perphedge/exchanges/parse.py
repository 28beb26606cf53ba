"""The border: ccxt dicts in, perphedge domain values out. Nothing past this module sees one.

    perpetual(market, ...)          ccxt market (swap)           -> instruments.Perpetual
    market_funding_interval_hours   ccxt market (Bybit's info)   -> hours or None
    spot(market)                    ccxt market (spot)           -> instruments.Spot
    tier_table(tiers, ...)          ccxt leverage tiers          -> instruments.TierTable
    funding_quote(rate, ...)        ccxt funding-rate structure  -> ports.FundingRateQuote
    price_snapshot(rate, ticker)    funding-rate + ticker        -> PriceSnapshot (mark/index/last)
    funding_points(history, ...)    ccxt funding-rate history    -> FundingPoints (numpy arrays)
    candles(ohlcv)                  ccxt OHLCV rows              -> Candles (numpy arrays)

Exchange numbers are read through `Decimal(str(x))` so that steps and ticks stay exact (0.1 stays
0.1); a missing or non-finite number where one is required raises DataError naming the field.
Funding times are floored to the minute: Binance stamps settlements a few milliseconds late
(e.g. 08:00:00.006), and the store keys rows by time.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import numpy as np

from perphedge.errors import DataError
from perphedge.instruments import ContractKind, MarginTier, Perpetual, Spot, TierTable
from perphedge.ports import Candles, FundingPoints, FundingRateQuote

MINUTE_MS = 60_000
TICK_SIZE_MODE = 4  # ccxt.TICK_SIZE: precision values are steps; else they are decimal places
_INTERVAL = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([mhd])\s*$")
_UNIT_HOURS = {"m": 1 / 60, "h": 1.0, "d": 24.0}

Json = Mapping[str, Any]


@dataclass(frozen=True)
class PriceSnapshot:
    """Mark, index and last price of one market (None when the venue did not report one)."""

    symbol: str
    ts_ms: int
    mark: Decimal | None
    index: Decimal | None
    last: Decimal | None


def decimal(field: str, value: Any) -> Decimal:
    """`Decimal(str(value))`, or DataError naming `field` when it is missing or not finite."""
    try:
        result = Decimal(str(value)) if value is not None else None
    except (InvalidOperation, ValueError):
        result = None
    if result is None or not result.is_finite():
        raise DataError(f"exchange sent {field}={value!r}; expected a finite number")
    return result


def optional_decimal(value: Any) -> Decimal | None:
    """`Decimal(str(value))` when `value` is a finite number, else None."""
    try:
        result = Decimal(str(value)) if value not in (None, "") else None
    except (InvalidOperation, ValueError):
        return None
    return result if result is not None and result.is_finite() else None


def interval_hours(value: Any) -> float | None:
    """ccxt's funding `interval` ("8h", "1h", "30m") in hours; None when absent or unreadable."""
    if isinstance(value, int | float) and math.isfinite(value) and value > 0:
        return float(value)
    match = _INTERVAL.match(str(value)) if value else None
    return float(match.group(1)) * _UNIT_HOURS[match.group(2)] if match else None


def market_funding_interval_hours(market: Json) -> float | None:
    """The funding interval a venue states in its market listing, if it does.

    Bybit v5 instruments-info sends `fundingInterval` in minutes (480 = 8 h); ccxt keeps it in
    `info`. Other venues report the interval with the funding rate instead (None here).
    """
    info = market.get("info") or {}
    minutes = optional_decimal(info.get("fundingInterval"))
    return float(minutes) / 60 if minutes is not None and minutes > 0 else None


def _step(precision: Any, mode: int, field: str) -> float:
    value = decimal(field, precision)
    if mode == TICK_SIZE_MODE:
        return float(value)
    return float(Decimal(1).scaleb(-int(value)))


def _info_leverage(market: Json) -> Decimal | None:
    """Max leverage ccxt leaves in the raw row (BingX: maxLongLeverage/maxShortLeverage)."""
    info = market.get("info") or {}
    sides = [optional_decimal(info.get(k)) for k in ("maxLongLeverage", "maxShortLeverage")]
    known = [x for x in sides if x is not None and x > 0]
    return min(known) if known else None


def perpetual(
    market: Json,
    exchange: str,
    *,
    tiers: TierTable | None = None,
    funding_interval_hours: float = 8.0,
    precision_mode: int = TICK_SIZE_MODE,
) -> Perpetual:
    """A perpetual swap from a ccxt market dict (contract size, steps, limits, fees, kind)."""
    symbol = str(market.get("symbol"))
    if not market.get("swap"):
        raise DataError(f"{exchange} market {symbol} is not a perpetual swap")
    limits = market.get("limits") or {}
    precision = market.get("precision") or {}
    inverse = bool(market.get("inverse"))
    max_lev = optional_decimal((limits.get("leverage") or {}).get("max")) or _info_leverage(market)
    extra: dict[str, Any] = {}
    if tiers is not None:
        extra["tiers"] = tiers
    for name, key in (("maker_fee", "maker"), ("taker_fee", "taker")):
        fee = optional_decimal(market.get(key))
        if fee is not None:
            extra[name] = float(fee)
    return Perpetual(
        symbol=symbol,
        base=str(market.get("base")),
        quote=str(market.get("quote")),
        settle=str(market.get("settle")),
        kind=ContractKind.INVERSE if inverse else ContractKind.LINEAR,
        contract_size=float(decimal(f"{symbol}.contractSize", market.get("contractSize"))),
        qty_step=_step(precision.get("amount"), precision_mode, f"{symbol}.precision.amount"),
        price_tick=_step(precision.get("price"), precision_mode, f"{symbol}.precision.price"),
        min_qty=float(optional_decimal((limits.get("amount") or {}).get("min")) or 0),
        min_notional=float(optional_decimal((limits.get("cost") or {}).get("min")) or 0),
        funding_interval_hours=funding_interval_hours,
        exchange=exchange,
        max_leverage=float(max_lev) if max_lev and max_lev > 0 else 125.0,
        **extra,
    )


def spot(market: Json) -> Spot:
    """A spot market from a ccxt market dict."""
    return Spot(symbol=str(market["symbol"]), base=str(market["base"]), quote=str(market["quote"]))


def implied_max_leverage(mmr: float) -> float:
    """1 / (2 * MMR), whole, within [1, 125]: the rule Binance's brackets follow (125x at 0.4 %)."""
    return min(125.0, max(1.0, float(int(1.0 / (2.0 * mmr)))))


def tier_table(tiers: Sequence[Json], source: str, as_of: str = "") -> TierTable:
    """Maintenance-margin brackets from ccxt leverage tiers.

    Uses the venue's maintenance amount where it sends one (Binance `cum`, Bybit `mmDeduction`,
    BingX `maintAmount` in `info`); otherwise derives it by the recursion in
    `TierTable.from_rates`. A tier without a maximum leverage (BingX sends none) gets
    `implied_max_leverage(MMR)`.
    """
    if not tiers:
        raise DataError(f"{source}: the exchange sent no leverage tiers")
    rows = []
    cums: list[Decimal | None] = []
    for t in sorted(tiers, key=lambda t: float(decimal("minNotional", t.get("minNotional")))):
        floor = decimal("minNotional", t.get("minNotional"))
        cap = optional_decimal(t.get("maxNotional"))
        mmr = decimal("maintenanceMarginRate", t.get("maintenanceMarginRate"))
        lev = optional_decimal(t.get("maxLeverage"))
        max_lev = float(lev) if lev and lev > 0 else implied_max_leverage(float(mmr))
        rows.append((float(floor), float(cap) if cap else math.inf, max_lev, float(mmr)))
        info = t.get("info") or {}
        cums.append(
            optional_decimal(info.get("cum", info.get("mmDeduction", info.get("maintAmount"))))
        )
    derived = TierTable.from_rates(rows, source=source, as_of=as_of)
    if any(c is None for c in cums):
        return derived
    given = tuple(
        MarginTier(tier.floor, tier.cap, tier.max_leverage, tier.mmr, float(c))
        for tier, c in zip(derived.tiers, cums, strict=True)
        if c is not None
    )
    return TierTable(given, source=source, as_of=as_of)


def funding_quote(rate: Json, default_interval_hours: float) -> FundingRateQuote:
    """The current funding rate, its next settlement and interval (venue's own when reported)."""
    symbol = str(rate.get("symbol"))
    value = decimal(f"{symbol}.fundingRate", rate.get("fundingRate"))
    interval = interval_hours(rate.get("interval")) or default_interval_hours
    next_ms = rate.get("nextFundingTimestamp") or rate.get("fundingTimestamp")
    ts = rate.get("timestamp") or next_ms or 0
    return FundingRateQuote(
        symbol=symbol,
        rate_per_interval=float(value),
        interval_hours=interval,
        next_funding_ms=int(next_ms) if next_ms else None,
        ts_ms=int(ts),
    )


def price_snapshot(symbol: str, rate: Json | None, ticker: Json | None) -> PriceSnapshot:
    """Mark and index from the funding-rate structure (or ticker), last from the ticker."""
    rate = rate or {}
    ticker = ticker or {}
    mark = optional_decimal(rate.get("markPrice")) or optional_decimal(ticker.get("markPrice"))
    index = optional_decimal(rate.get("indexPrice")) or optional_decimal(ticker.get("indexPrice"))
    last = optional_decimal(ticker.get("last"))
    if mark is None and index is None and last is None:
        raise DataError(f"exchange sent no mark, index or last price for {symbol}")
    ts = ticker.get("timestamp") or rate.get("timestamp") or 0
    return PriceSnapshot(symbol, int(ts), mark, index, last)


def funding_points(symbol: str, history: Sequence[Json]) -> FundingPoints:
    """Funding history rows (ccxt fetchFundingRateHistory), sorted, deduplicated by minute."""
    by_ts: dict[int, tuple[float, float]] = {}
    for row in history:
        ts = row.get("timestamp")
        if ts is None:
            raise DataError(f"exchange sent a {symbol} funding row without a timestamp")
        rate = decimal(f"{symbol}.fundingRate", row.get("fundingRate"))
        mark = optional_decimal((row.get("info") or {}).get("markPrice"))
        by_ts[int(ts) // MINUTE_MS * MINUTE_MS] = (float(rate), float(mark) if mark else math.nan)
    keys = sorted(by_ts)
    return FundingPoints(
        symbol,
        np.asarray(keys, dtype=np.int64),
        np.asarray([by_ts[k][0] for k in keys], dtype=np.float64),
        np.asarray([by_ts[k][1] for k in keys], dtype=np.float64),
    )


def candles(rows: Sequence[Sequence[Any]]) -> Candles:
    """ccxt OHLCV rows [ts, open, high, low, close, volume] -> Candles (sorted, unique by ts)."""
    by_ts: dict[int, tuple[float, float, float, float]] = {}
    for row in rows:
        if len(row) < 5 or any(v is None for v in row[:5]):
            raise DataError(f"exchange sent an incomplete candle {list(row)[:5]}")
        by_ts[int(row[0])] = (float(row[1]), float(row[2]), float(row[3]), float(row[4]))
    keys = sorted(by_ts)
    cols = [np.asarray([by_ts[k][i] for k in keys], dtype=np.float64) for i in range(4)]
    return Candles(np.asarray(keys, dtype=np.int64), *cols)
