"""Tables and JSON for `perphedge plan` and `perphedge stress`.

JSON keys are stable for scripts: plan -> total_exposure, hedge_notional, initial_margin (USD) and
legs[{symbol, side, qty (contracts), notional (USD), initial_margin (USD), liquidation_price}],
plus exposures, orders, warnings and notes; stress -> price_shocks, funding, basis, squeezes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich import box
from rich.console import RenderableType
from rich.table import Table

from perphedge.hedge.reserve import ReservePlan, Window
from perphedge.hedge.sizing import HedgePlan, PlanLeg
from perphedge.hedge.stress import Outcome, StressResult
from perphedge.report.render import (
    fmt_num,
    fmt_pct,
    fmt_rate,
    iso_time,
    jsonable,
    key_value_table,
    table,
)
from perphedge.services.inputs import AsOf


def _leg_dict(leg: PlanLeg) -> dict[str, Any]:
    return {
        "symbol": leg.symbol,
        "side": leg.side,
        "qty": float(leg.qty),
        "qty_unit": "contracts",
        "contract_size": leg.instrument.contract_size,
        "kind": leg.kind.value,
        "qty_base": leg.qty_base,
        "mark": leg.mark,
        "target_notional": leg.target_notional_usd,
        "notional": leg.notional_usd,
        "residual": leg.residual_usd,
        "initial_margin": leg.initial_margin_usd,
        "initial_margin_settle": leg.initial_margin,
        "settle": leg.settle,
        "wallet_settle": leg.wallet,
        "liquidation_price": leg.liquidation_price,
        "liquidation_distance": leg.liquidation_distance,
        "liquidation_approximate": leg.approximate,
        "funding_rate": leg.rate_per_interval,
        "funding_interval_hours": leg.interval_hours,
        "funding_source": leg.funding_source,
        "funding_per_day": leg.funding_per_day_usd,
        "funding_per_year": leg.funding_per_year_usd,
        "funding_apr": leg.funding_apr,
        "fee_open": leg.fee_open_usd,
        "tiers_source": leg.tiers_source,
        "opened": leg.position is not None,
    }


def plan_dict(
    plan: HedgePlan,
    notes: tuple[str, ...] = (),
    stale: tuple[str, ...] = (),
    as_of: tuple[AsOf, ...] = (),
    reserve: ReservePlan | None = None,
) -> dict[str, Any]:
    """The plan as JSON-ready data (USD unless a key says `_settle`); `as_of`: each input's
    source and time (ISO UTC, null when given in the file), `stale`: warnings about old data;
    `reserve_usd`: the keeper's reserve (worst windows; null when no history),
    `keeper_reserve` its legs, windows and the quantile figure."""
    spec = plan.spec
    data = {
        "exchange": spec.exchange,
        "contract": spec.kind.value,
        "margin_mode": spec.margin_mode.value,
        "leverage": spec.leverage,
        "ratio": spec.ratio,
        "total_exposure": plan.total_exposure,
        "hedge_notional": plan.hedge_notional,
        "unhedged": plan.unhedged_usd,
        "initial_margin": plan.initial_margin,
        "fees_open": plan.fees_open_usd,
        "funding_per_day": plan.funding_per_day_usd,
        "funding_per_year": plan.funding_per_year_usd,
        "legs": [_leg_dict(leg) for leg in plan.legs],
        "exposures": plan.exposures,
        "orders": plan.orders,
        "warnings": plan.warnings,
        "notes": [*notes, *plan.notes],
        "stale": list(stale),
        "as_of": [
            {
                "input": a.subject,
                "source": a.source,
                "time": None if a.ts_ms is None else iso_time(a.ts_ms),
            }
            for a in as_of
        ],
        "orders_sent": False,
        "reserve_usd": None if reserve is None else reserve.reserve_usd,
        "keeper_reserve": None if reserve is None else _reserve_dict(reserve),
    }
    result: dict[str, Any] = jsonable(data)
    return result


def _window(w: Window) -> dict[str, Any]:
    return {"move": w.move, "from": iso_time(w.start_ms), "to": iso_time(w.end_ms)}


def _reserve_dict(reserve: ReservePlan) -> dict[str, Any]:
    legs = [
        {
            "symbol": worst.symbol,
            "reserve_usd": worst.reserve_usd,
            "rally_usd": worst.rally_usd,
            "funding_usd": worst.funding_usd,
            "worst_rally": _window(worst.rally),
            "worst_funding": _window(worst.funding),
            "reserve_usd_at_quantile": typical.reserve_usd,
        }
        for worst, typical in zip(reserve.worst, reserve.at_quantile, strict=True)
    ]
    return {
        "window_days": reserve.window_days,
        "quantile": reserve.quantile,
        "reserve_usd_at_quantile": reserve.quantile_usd,
        "legs": legs,
    }


def _day(ms: int) -> str:
    return iso_time(ms)[:10]


def reserve_table(reserve: ReservePlan) -> Table:
    """Per leg and in total: the keeper's reserve at the worst windows and at the quantile."""
    q = f"{reserve.quantile:.0%}"
    rows = [
        (
            w.symbol,
            f"{w.rally.move:+.1%} ({_day(w.rally.start_ms)} to {_day(w.rally.end_ms)})",
            f"{w.funding.move:.2%} (to {_day(w.funding.end_ms)})",
            fmt_num(w.reserve_usd, 0),
            fmt_num(q_leg.reserve_usd, 0),
        )
        for w, q_leg in zip(reserve.worst, reserve.at_quantile, strict=True)
    ]
    rows.append(
        ("total", "", "", fmt_num(reserve.reserve_usd, 0), fmt_num(reserve.quantile_usd, 0))
    )
    days = f"{reserve.window_days:g}-day"
    return _fold(
        table(
            f"Keeper reserve (USD): carries the shorts through the worst {days} rally and "
            f"{days} funding in stored history",
            ["leg", f"worst {days} rally", f"worst {days} funding paid", "reserve", f"at {q}"],
            rows,
        ),
        wrap=(1, 2),
    )


def _fold(out: Table, wrap: tuple[int, ...] = (0,)) -> Table:
    """Narrow terminals: numbers stay whole; the `wrap` columns fold onto more lines instead."""
    for index, column in enumerate(out.columns):
        column.overflow = "fold"
        column.no_wrap = index not in wrap
    return out


def _exposure_table(plan: HedgePlan) -> Table:
    rows = [
        (
            e.asset + (f" ({e.location})" if e.location else ""),
            fmt_num(e.qty_base, 8).rstrip("0").rstrip("."),
            fmt_num(e.price),
            fmt_num(e.value_usd),
            "none" if e.hedge_symbol is None else e.hedge_symbol.split("/")[0] + " perp",
            f"{e.ratio:g}" + (f" x beta {e.beta:.3g}" if e.beta != 1 else ""),
            fmt_num(e.unhedged_usd),
        )
        for e in plan.exposures
    ]
    headers = ["holding", "qty", "price", "value", "hedge", "ratio", "unhedged"]
    return _fold(table("Exposure, USD", headers, rows), wrap=(0, 4, 5))


def _liq_cell(price: float | None, approximate: bool) -> str:
    """The liquidation price, marked when the venue publishes no formula (conservative rule)."""
    if not price:
        return "none"
    return fmt_num(price) + (" (approx.)" if approximate else "")


def _legs_table(plan: HedgePlan) -> Table:
    rows = []
    for leg in plan.legs:
        inst = leg.instrument
        unit = "contracts" if inst.is_inverse or inst.contract_size != 1 else inst.base
        digits = 8 if leg.instrument.is_inverse else 2
        rows.append(
            (
                leg.symbol,
                f"{leg.qty} {unit}",
                fmt_num(leg.notional_usd),
                fmt_num(leg.residual_usd),
                f"{fmt_num(leg.initial_margin, digits)} {leg.settle}",
                _liq_cell(leg.liquidation_price, leg.approximate),
                fmt_pct(leg.liquidation_distance, 1),
            )
        )
    spec = plan.spec
    return _fold(
        table(
            f"Short legs — {spec.exchange} {spec.kind.value}, {spec.margin_mode.value}, "
            f"{spec.leverage:g}x",
            ["perpetual", "short", "notional", "residual", "init. margin", "liq. price", "away"],
            rows,
        ),
        wrap=(0, 1, 4),
    )


def _funding_table(plan: HedgePlan) -> Table:
    rows = [
        (
            leg.symbol,
            fmt_rate(leg.rate_per_interval, leg.interval_hours),
            fmt_num(leg.funding_per_day_usd),
            fmt_num(leg.funding_per_year_usd),
            fmt_pct(leg.funding_apr),
            fmt_num(leg.fee_open_usd),
            leg.funding_source,
        )
        for leg in plan.legs
    ]
    return _fold(
        table(
            "Funding (> 0: the short earns) and fees, USD",
            ["perpetual", "rate", "per day", "per year", "APR", "fee to open", "rate from"],
            rows,
        ),
        wrap=(0, 1, 6),
    )


def _totals(plan: HedgePlan) -> Table:
    return key_value_table(
        "Totals (USD)",
        [
            ("total exposure", fmt_num(plan.total_exposure)),
            ("hedge notional (short)", fmt_num(plan.hedge_notional)),
            ("unhedged", fmt_num(plan.unhedged_usd)),
            ("initial margin", fmt_num(plan.initial_margin)),
            ("fees to open", fmt_num(plan.fees_open_usd)),
            ("expected funding per day", fmt_num(plan.funding_per_day_usd)),
            ("expected funding per year", fmt_num(plan.funding_per_year_usd)),
        ],
    )


def _orders(plan: HedgePlan) -> Table:
    rows = [
        (o.symbol, o.side.value, str(o.qty), o.order_type.value, str(o.price or "market"))
        for o in plan.orders
    ]
    return _fold(
        table(
            "Orders that would open the hedge (NOT sent)",
            ["symbol", "side", "qty (contracts)", "type", "price"],
            rows,
        )
    )


def plan_renderables(
    plan: HedgePlan,
    notes: tuple[str, ...] = (),
    stale: tuple[str, ...] = (),
    reserve: ReservePlan | None = None,
) -> list[RenderableType]:
    """Exposure, legs, totals, orders, the keeper's reserve, then warnings and notes."""
    out: list[RenderableType] = [_exposure_table(plan), _legs_table(plan), _funding_table(plan)]
    out += [_totals(plan), _orders(plan)]
    out += [] if reserve is None else [reserve_table(reserve)]
    out += [f"[bold yellow]warning[/] {w.subject}: {w.message}" for w in plan.warnings]
    out += [f"[bold yellow]warning[/] stale data: {line}" for line in stale]
    out += [f"note: {n}" for n in (*notes, *plan.notes)]
    return out


def _outcome_rows(outcomes: tuple[Outcome, ...]) -> list[tuple[str, ...]]:
    return [
        (
            o.label,
            fmt_num(o.spot_pnl, 0),
            fmt_num(o.hedge_pnl, 0),
            fmt_num(o.funding, 0),
            fmt_num(o.fees, 0),
            fmt_num(o.net, 0),
            _liq(o) if o.liquidated else fmt_pct(o.margin_ratio, 1),
            fmt_num(o.value_after, 0),
            fmt_num(o.top_up, 0) if o.top_up > 0 else "-",
        )
        for o in outcomes
    ]


def _liq(o: Outcome) -> str:
    """'LIQ', or 'LIQ d65' when the funding drain liquidates a short on day 65."""
    return "LIQ" if o.drain_day is None else f"LIQ d{o.drain_day:.0f}"


def prevention_line(
    o: Outcome, safe_leverage: float | None = None, leverage: float | None = None
) -> str | None:
    """A liquidated scenario in plain words: when, and what would have prevented it (with the
    plan's `leverage` and the `safe_leverage` found for the scenario: which leverage)."""
    if not o.liquidated:
        return None
    how = (
        f"funding drains the margin of {', '.join(o.drained_symbols)} on day {o.drain_day:.1f}"
        if o.drain_day is not None
        else f"{', '.join(o.liquidated_symbols)} liquidated"
    )
    return (
        f"{o.label}: {how}; prevented by a top-up of {fmt_num(o.top_up, 0)} USD, "
        f"{_leverage_words(safe_leverage, leverage)}, or the keeper with at least that reserve"
    )


def _leverage_words(safe: float | None, leverage: float | None) -> str:
    if leverage is None:
        return "a lower leverage"
    if safe is not None:
        return f"a leverage of {safe:g}x instead of {leverage:g}x (not liquidated there)"
    if leverage <= 1.0:
        return f"not a lower leverage ({leverage:g}x already)"
    return "not a lower leverage alone (liquidated at every leverage down to 1x)"


def prevention_lines(
    result: StressResult, safe: Sequence[float | None] = (), leverage: float | None = None
) -> list[str]:
    """Plain words for every liquidated scenario: when, and what would have prevented it;
    `safe`: per scenario (`StressResult.outcomes` order), the leverage it lives at."""
    found = list(safe) or [None] * len(result.outcomes)
    lev = leverage if safe else None
    return [
        line
        for o, s in zip(result.outcomes, found, strict=True)
        if (line := prevention_line(o, s, lev)) is not None
    ]


_STRESS_HEADERS = [
    "scenario", "spot", "hedge", "funding", "fees", "net", "margin", "after", "top-up",
]  # fmt: skip


def stress_renderables(
    result: StressResult, safe: Sequence[float | None] = (), leverage: float | None = None
) -> list[RenderableType]:
    """One table per scenario family (USD)."""
    days = f"{result.spec.horizon_days:g} days"
    sections = (
        (f"Price shocks (held {days}, planned funding)", result.price_shocks),
        (f"Funding regimes over {days}", result.funding),
        ("Basis: perpetual vs spot", result.basis),
        ("Short squeeze: spike then revert", result.squeezes),
    )
    tables: list[RenderableType] = [
        _compact(table(title + " — USD", _STRESS_HEADERS, _outcome_rows(rows)))
        for title, rows in sections
    ]
    return [*tables, *prevention_lines(result, safe, leverage)]


def _compact(out: Table) -> Table:
    """Nine columns of numbers: no vertical rules, and no cell is ever cut or folded."""
    out.box = box.SIMPLE_HEAD
    out.show_edge = False
    out.padding = (0, 0)
    out.pad_edge = False
    for column in out.columns:
        column.no_wrap = True
    return out


def stress_dict(result: StressResult) -> dict[str, Any]:
    data: dict[str, Any] = jsonable(result)
    return data
