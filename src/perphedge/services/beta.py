"""Beta service: minimum-variance hedge ratio of coins against a hedge perpetual, from History.

Asset returns come from daily spot closes, hedge returns from the hedge perpetual's daily mark
closes (or the kinds asked for); perphedge.beta does the statistics.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from perphedge.beta import (
    AlignedReturns,
    CiMethod,
    HedgeRatioEstimate,
    aligned_returns,
    min_variance_hedge,
)
from perphedge.errors import InputError
from perphedge.ports import History
from perphedge.symbols import PRICE_KINDS, market_symbol

CANDLES = "1d"  # return intervals are built from daily closes


MIN_RETURNS = 5


def check_returns_fit(interval: str, interval_days: int, window: str, window_days: int) -> None:
    """InputError unless MIN_RETURNS intervals fit in the window (texts as the user wrote them)."""
    if interval_days * MIN_RETURNS > window_days:
        raise InputError(
            "--interval", interval, f"needs at least {MIN_RETURNS} returns inside --window {window}"
        )


@dataclass(frozen=True)
class BetaRequest:
    """What to estimate against: the hedge coin and the data choices (defaults as the CLI's)."""

    vs: str = "BTC"
    window_days: int = 365
    interval_days: int = 1
    exchange: str = "binance"
    asset_kind: str = "spot"
    hedge_kind: str = "mark"
    ewma_halflife: float | None = None
    until_ms: int | None = None
    ci_method: CiMethod = CiMethod.BOOTSTRAP
    ci_level: float = 0.95
    seed: int = 0

    def __post_init__(self) -> None:
        for field, kind in (("--asset-kind", self.asset_kind), ("--hedge-kind", self.hedge_kind)):
            if kind not in PRICE_KINDS:
                raise InputError(field, kind, f"use one of {', '.join(PRICE_KINDS)}")
        check_returns_fit(
            f"{self.interval_days}d", self.interval_days, f"{self.window_days}d", self.window_days
        )


@dataclass(frozen=True)
class BetaRow:
    """One asset's estimate against the hedge instrument, with the data it used."""

    asset: str
    asset_symbol: str
    hedge_symbol: str
    returns: AlignedReturns
    estimate: HedgeRatioEstimate


def estimate_beta(history: History, asset: str, req: BetaRequest) -> BetaRow:
    """Minimum-variance hedge ratio of `asset` against `req.vs` from stored daily closes.

    DataError when a series is missing."""
    venue = req.exchange.strip().lower()
    hedge_symbol = market_symbol(req.vs, req.hedge_kind)
    asset_symbol = market_symbol(asset, req.asset_kind)
    hedge = history.prices(venue, hedge_symbol, req.hedge_kind, CANDLES, until_ms=req.until_ms)
    px = history.prices(venue, asset_symbol, req.asset_kind, CANDLES, until_ms=req.until_ms)
    rets = aligned_returns(
        px.ts_ms, px.close, hedge.ts_ms, hedge.close, req.window_days, req.interval_days
    )
    est = min_variance_hedge(
        rets.asset,
        rets.hedge,
        ewma_halflife=req.ewma_halflife,
        ci_level=req.ci_level,
        ci_method=req.ci_method,
        rng=np.random.default_rng(req.seed),
    )
    return BetaRow(asset, asset_symbol, hedge_symbol, rets, est)


def estimate_betas(
    history: History, assets: tuple[str, ...], req: BetaRequest
) -> tuple[BetaRow, ...]:
    """`estimate_beta` for each of `assets`, in order."""
    return tuple(estimate_beta(history, asset, req) for asset in assets)
