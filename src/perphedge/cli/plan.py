"""`perphedge plan` and `perphedge stress`: the hedge for a portfolio file, and how it behaves.

Options -> perphedge.services.plan (plan_portfolio, stress_portfolio) -> perphedge.report.plan_view.
Orders are printed, never sent.
"""

from __future__ import annotations

from pathlib import Path

import typer

from perphedge.cli import wiring
from perphedge.config import load_portfolio
from perphedge.errors import InputError, require_finite
from perphedge.hedge.stress import (
    DEFAULT_BASIS_BP,
    DEFAULT_FUNDING_PER_8H,
    DEFAULT_SHOCKS,
    DEFAULT_SQUEEZES,
    StressSpec,
)
from perphedge.report.plan_view import plan_dict, plan_renderables, stress_dict, stress_renderables
from perphedge.report.render import console, err_console, print_json
from perphedge.services.inputs import STALE_DAYS
from perphedge.services.plan import OpenLive, PlanRequest, plan_portfolio, stress_portfolio

# help is rich markup: a literal "[" is written "\\["
_PORTFOLIO = typer.Argument(..., help="Portfolio TOML file (\\[\\[holdings]] and \\[hedge]).")
_LIVE = typer.Option(False, "--live", help="Marks, contracts and funding from the exchange.")
_EXCHANGE = typer.Option(None, "--exchange", help="Override \\[hedge].exchange.")
_LIQ = typer.Option(
    30.0,
    "--min-liq-distance",
    help="Warn below this distance to liquidation, % of the mark (30 = 30 %).",
)
_FUNDING = typer.Option(
    5.0, "--max-funding-cost", help="Warn when the short pays more funding than this, % a year."
)
_STALE = typer.Option(
    STALE_DAYS,
    "--stale-days",
    help="Warn about stored prices or funding older than this many days.",
)
_RESERVE_Q = typer.Option(
    95.0,
    "--reserve-quantile",
    help="Also size the keeper's reserve at this percentile of 30-day windows (95 = 95 %).",
)
_PLOT = typer.Option(None, "--plot", help="Write a report with a chart: FILE.html (offline).")
_BASIS_DEFAULT = ",".join(f"{bp:g}" for bp in DEFAULT_BASIS_BP)


def _open_live(live: bool) -> OpenLive | None:
    return wiring.current().live_market if live else None


def plan(
    portfolio: Path = _PORTFOLIO,
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
    live: bool = _LIVE,
    exchange: str | None = _EXCHANGE,
    min_liq_distance: float = _LIQ,
    max_funding_cost: float = _FUNDING,
    stale_days: float = _STALE,
    reserve_quantile: float = _RESERVE_Q,
) -> None:
    """The short perpetuals that would insure PORTFOLIO: sizes, margin, liquidation, funding."""
    request = PlanRequest(
        exchange, min_liq_distance, max_funding_cost, stale_days, reserve_quantile
    )
    cfg = load_portfolio(portfolio)
    ports = wiring.current()
    result = plan_portfolio(cfg, request, ports.history(), ports.clock, _open_live(live))
    if as_json:
        print_json(plan_dict(result.plan, result.notes, result.stale, result.as_of, result.reserve))
        return
    for item in plan_renderables(result.plan, result.notes, result.stale, result.reserve):
        console.print(item)


def parse_list(option: str, text: str, scale: float = 1.0) -> tuple[float, ...]:
    """'-50,-25,10' -> (-0.5, -0.25, 0.1) with scale 0.01; InputError naming `option`."""
    try:
        values = tuple(float(part) * scale for part in text.split(",") if part.strip())
    except ValueError:
        raise InputError(option, text, "give comma-separated numbers, e.g. -50,-10,10,50") from None
    if not values:
        raise InputError(option, text, "give at least one number")
    return values


def _pct(values: tuple[float, ...]) -> str:
    return ",".join(f"{v * 100:g}" for v in values)


def stress(
    portfolio: Path = _PORTFOLIO,
    shocks: str = typer.Option(_pct(DEFAULT_SHOCKS), "--shocks", help="Price shocks in %."),
    funding_range: str = typer.Option(
        _pct(DEFAULT_FUNDING_PER_8H), "--funding-range", help="Funding rates in % per 8 h."
    ),
    horizon_days: float = typer.Option(30.0, "--horizon-days", help="Days the hedge is held."),
    basis_bp: str = typer.Option(_BASIS_DEFAULT, "--basis-bp", help="Perp-spot basis, bp."),
    squeeze: str = typer.Option(
        _pct(DEFAULT_SQUEEZES), "--squeeze", help="Short-squeeze peaks in % (spike, revert)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
    plot: Path | None = _PLOT,
    live: bool = _LIVE,
    exchange: str | None = _EXCHANGE,
) -> None:
    """Price shocks, funding regimes, basis and a short squeeze applied to PORTFOLIO's hedge."""
    shock_spec = StressSpec(
        shocks=parse_list("--shocks", shocks, 0.01),
        funding_per_8h=parse_list("--funding-range", funding_range, 0.01),
        horizon_days=_horizon_days(horizon_days),
        basis_bp=parse_list("--basis-bp", basis_bp),
        squeezes=parse_list("--squeeze", squeeze, 0.01),
    )
    cfg = load_portfolio(portfolio)
    ports = wiring.current()
    outcome = stress_portfolio(
        cfg, PlanRequest(exchange), shock_spec, ports.history(), ports.clock, _open_live(live)
    )
    result = outcome.stress
    if plot is not None:
        from perphedge.report.stress_chart import write_stress_report

        leverage = outcome.planned.plan.spec.leverage
        title = f"{cfg.name}: the hedge under price shocks ({leverage:g}x)"
        written = write_stress_report(plot, title, outcome.planned.plan, result)
        err_console.print(f"chart written to {written}")
    if as_json:
        print_json(stress_dict(result))
        return
    leverage = outcome.planned.plan.spec.leverage
    for item in stress_renderables(result, outcome.safe_leverage, leverage):
        console.print(item)


MAX_HORIZON_DAYS = 3650.0


def _horizon_days(days: float) -> float:
    """A stress horizon of more than 0 and at most ten years (1e308 days is no horizon)."""
    require_finite("--horizon-days", days)
    if not 0 < days <= MAX_HORIZON_DAYS:
        raise InputError("--horizon-days", days, "give more than 0 and at most 3650 days")
    return days


def register(app: typer.Typer) -> None:
    app.command("plan")(plan)
    app.command("stress")(stress)
