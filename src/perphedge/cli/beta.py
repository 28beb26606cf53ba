"""`perphedge beta ASSET... --vs BTC`: minimum-variance hedge ratio and hedge effectiveness.

Asset returns come from daily spot closes, hedge returns from the hedge perpetual's daily mark
closes (or the kind chosen), both from the local market store; perphedge.beta does the rest.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Any

import numpy as np
import typer

from perphedge.beta import (
    AlignedReturns,
    CiMethod,
    HedgeRatioEstimate,
    aligned_returns,
    min_variance_hedge,
)
from perphedge.cli.market_args import parse_day_or_time, parse_days, symbol_pattern
from perphedge.cli.options import choice
from perphedge.errors import InputError
from perphedge.report.render import console, fmt_num, fmt_pct, jsonable, print_json, table
from perphedge.store.market import PRICE_KINDS, MarketStore

CANDLES = "1d"  # return intervals are built from daily closes


@dataclass(frozen=True)
class BetaRow:
    """One asset's estimate against the hedge instrument, with the data it used."""

    asset: str
    asset_symbol: str
    hedge_symbol: str
    returns: AlignedReturns
    estimate: HedgeRatioEstimate


def market_symbol(text: str, kind: str) -> str:
    """ccxt symbol of `text` for a price kind: spot "ETH/USDT", perp or mark "ETH/USDT:USDT"."""
    pattern = symbol_pattern(text)
    if pattern.exact is None:
        return f"{pattern.base}/USDT" if kind == "spot" else f"{pattern.base}/USDT:USDT"
    if kind == "spot":
        return pattern.exact.partition(":")[0]
    if ":" not in pattern.exact:
        quote = pattern.exact.partition("/")[2]
        return f"{pattern.exact}:{quote}"
    return pattern.exact


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


def estimate_beta(store: MarketStore, asset: str, req: BetaRequest) -> BetaRow:
    """Minimum-variance hedge ratio of `asset` against `req.vs` from stored daily closes.

    The planner's proxy hedges can call this (e.g. estimate_beta(MarketStore(), "SOL",
    BetaRequest(vs="BTC")).estimate.beta). DataError when a series is missing.
    """
    venue = req.exchange.strip().lower()
    hedge_symbol = market_symbol(req.vs, req.hedge_kind)
    asset_symbol = market_symbol(asset, req.asset_kind)
    hedge = store.prices(venue, hedge_symbol, req.hedge_kind, CANDLES, until_ms=req.until_ms)
    px = store.prices(venue, asset_symbol, req.asset_kind, CANDLES, until_ms=req.until_ms)
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


def beta(
    assets: Annotated[list[str], typer.Argument(metavar="ASSET...", help="ETH, SOL, ETH/USDT ...")],
    vs: str = typer.Option("BTC", "--vs", help="Hedge instrument's coin or symbol."),
    window: str = typer.Option("365d", "--window", help="Look-back, e.g. 365d, 26w, 2y."),
    interval: str = typer.Option("1d", "--interval", help="Return interval: 1d, 3d, 1w ..."),
    ewma_halflife: float | None = typer.Option(
        None, "--ewma-halflife", help="EWMA half-life in return intervals (default: equal weights)."
    ),
    until: str | None = typer.Option(
        None, "--until", help="Last day, YYYY-MM-DD (default: latest)."
    ),
    exchange: str = typer.Option("binance", "--exchange", "-e", help="Venue of both price series."),
    asset_kind: str = typer.Option("spot", "--asset-kind", help="spot, perp or mark"),
    hedge_kind: str = typer.Option("mark", "--hedge-kind", help="spot, perp or mark"),
    ci: str = typer.Option("block-bootstrap", "--ci", help="block-bootstrap or fisher-z"),
    ci_level: float = typer.Option(0.95, "--ci-level", help="Confidence level, e.g. 0.95."),
    seed: int = typer.Option(0, "--seed", help="Bootstrap seed (results are reproducible)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Minimum-variance hedge ratio (OLS beta) of each ASSET against the --vs perpetual.

    Also the hedge effectiveness (variance removed), with confidence intervals for both.
    """
    for field, kind in (("--asset-kind", asset_kind), ("--hedge-kind", hedge_kind)):
        if kind not in PRICE_KINDS:
            raise InputError(field, kind, f"use one of {', '.join(PRICE_KINDS)}")
    window_days = parse_days("--window", window)
    interval_days = parse_days("--interval", interval)
    if interval_days * 5 > window_days:
        raise InputError(
            "--interval", interval, f"needs at least 5 returns inside --window {window}"
        )
    req = BetaRequest(
        vs=vs,
        window_days=window_days,
        interval_days=interval_days,
        exchange=exchange.strip().lower(),
        asset_kind=asset_kind,
        hedge_kind=hedge_kind,
        ewma_halflife=ewma_halflife,
        until_ms=None if until is None else parse_day_or_time("--until", until, end_of_day=True),
        ci_method=choice(CiMethod, "--ci", ci),
        ci_level=ci_level,
        seed=seed,
    )
    store = MarketStore()
    rows = [estimate_beta(store, asset, req) for asset in assets]
    venue, method = req.exchange, req.ci_method
    if as_json:
        print_json([_row_json(r, venue, asset_kind, hedge_kind) for r in rows])
    else:
        _print_table(rows, venue, asset_kind, hedge_kind, method)


def _day(ts_ms: int) -> str:
    return datetime.fromtimestamp(ts_ms / 1000, UTC).strftime("%Y-%m-%d")


def _row_json(row: BetaRow, venue: str, asset_kind: str, hedge_kind: str) -> dict[str, Any]:
    out: dict[str, Any] = {
        "asset": row.asset,
        "exchange": venue,
        "asset_symbol": row.asset_symbol,
        "asset_kind": asset_kind,
        "hedge_symbol": row.hedge_symbol,
        "hedge_kind": hedge_kind,
        "start": _day(row.returns.start_ms),
        "end": _day(int(row.returns.end_ts_ms[-1])),
        "interval_days": row.returns.interval_days,
    }
    out.update(jsonable(row.estimate))
    return out


def _ci(bounds: tuple[float, float], fmt: str) -> str:
    if fmt == "pct":
        return f"{fmt_pct(bounds[0], 1)} … {fmt_pct(bounds[1], 1)}"
    return f"{fmt_num(bounds[0], 3)} … {fmt_num(bounds[1], 3)}"


def _print_table(
    rows: list[BetaRow], venue: str, asset_kind: str, hedge_kind: str, method: CiMethod
) -> None:
    level = rows[0].estimate.ci_level if rows else 0.95
    body = [
        [
            f"{r.asset_symbol} ({asset_kind})",
            f"{_day(r.returns.start_ms)} → {_day(int(r.returns.end_ts_ms[-1]))}",
            f"{r.returns.interval_days}d",
            str(r.estimate.n_obs),
            fmt_num(r.estimate.beta, 3),
            _ci(r.estimate.beta_ci, "num"),
            fmt_pct(r.estimate.hedge_effectiveness, 1),
            _ci(r.estimate.he_ci, "pct"),
            fmt_num(r.estimate.rho, 3),
            "equal"
            if r.estimate.ewma_halflife is None
            else f"EWMA hl {r.estimate.ewma_halflife:g}",
        ]
        for r in rows
    ]
    hedge = rows[0].hedge_symbol if rows else "?"
    console.print(
        table(
            f"Minimum-variance hedge ratio vs {hedge} ({hedge_kind}) on {venue}",
            [
                "asset",
                "window",
                "returns",
                "n",
                "beta",
                f"beta {level:.0%} CI",
                "HE",
                f"HE {level:.0%} CI",
                "rho",
                "weights",
            ],
            body,
        )
    )
    console.print(
        "beta = hedge notional per 1 USD of the asset (OLS slope, Ederington 1979); "
        f"HE = share of return variance the hedge removes (= rho²); CI: {method.value}.",
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    app.command(name="beta")(beta)
