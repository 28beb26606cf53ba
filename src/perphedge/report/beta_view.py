"""Table and JSON of `perphedge beta`: the minimum-variance hedge ratio per asset."""

from __future__ import annotations

from typing import Any

from rich.console import RenderableType

from perphedge.report.render import fmt_num, fmt_pct, jsonable, table
from perphedge.services.beta import BetaRequest, BetaRow
from perphedge.units import utc_text


def _day(ts_ms: int) -> str:
    return utc_text(ts_ms, "%Y-%m-%d")


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


def beta_json(rows: tuple[BetaRow, ...], req: BetaRequest) -> list[dict[str, Any]]:
    """One JSON object per asset: data window and every field of the estimate."""
    return [_row_json(r, req.exchange, req.asset_kind, req.hedge_kind) for r in rows]


def beta_renderables(rows: tuple[BetaRow, ...], req: BetaRequest) -> list[RenderableType]:
    """The estimates table and a line explaining beta, HE and the interval method."""
    venue, asset_kind, hedge_kind, method = (
        req.exchange,
        req.asset_kind,
        req.hedge_kind,
        req.ci_method,
    )
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
    return [
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
        ),
        "beta = hedge notional per 1 USD of the asset (OLS slope, Ederington 1979); "
        f"HE = share of return variance the hedge removes (= rho²); CI: {method.value}.",
    ]
