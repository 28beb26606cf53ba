"""`perphedge plan` and `perphedge stress`: the hedge for a portfolio file, and how it behaves.

Both read a portfolio TOML (perphedge.config), resolve prices, contracts and funding offline or
with --live (perphedge.cli.plan_inputs), build the plan (perphedge.hedge.sizing) and render it. Orders
are printed, never sent.
"""

from __future__ import annotations

from pathlib import Path

import typer

from perphedge.cli import plan_inputs
from perphedge.config import PortfolioConfig, load_portfolio
from perphedge.errors import InputError, require_finite
from perphedge.exchanges.capabilities import require_for, unverified_notes
from perphedge.hedge.sizing import HedgePlan, HedgeSpec, build_plan
from perphedge.hedge.stress import (
    DEFAULT_BASIS_BP,
    DEFAULT_FUNDING_PER_8H,
    DEFAULT_SHOCKS,
    DEFAULT_SQUEEZES,
    StressSpec,
    run_stress,
)
from perphedge.report.funding_chart import write_chart
from perphedge.report.plan_view import (
    plan_dict,
    plan_renderables,
    stress_dict,
    stress_renderables,
)
from perphedge.report.render import console, err_console, print_json
from perphedge.report.stress_chart import stress_figure
from perphedge.venues.registry import venue

# help is rich markup: a literal "[" is written "\\["
_PORTFOLIO = typer.Argument(..., help="Portfolio TOML file (\\[\\[holdings]] and \\[hedge]).")
_LIVE = typer.Option(False, "--live", help="Marks, contracts and funding from the exchange.")
_EXCHANGE = typer.Option(None, "--exchange", help="Override \\[hedge].exchange.")
_LIQ = typer.Option(30.0, "--min-liq-distance", help="Warn below this % to liquidation.")
_FUNDING = typer.Option(5.0, "--max-funding-cost", help="Warn when the short pays > this %/yr.")
_PLOT = typer.Option(None, "--plot", help="Write a chart: FILE.html or .png.")
_BASIS_DEFAULT = ",".join(f"{bp:g}" for bp in DEFAULT_BASIS_BP)


def make_plan(
    cfg: PortfolioConfig,
    exchange: str | None = None,
    live: bool = False,
    min_liq_distance_pct: float = 30.0,
    max_funding_cost_pct: float = 5.0,
) -> tuple[HedgePlan, tuple[str, ...]]:
    """Resolve market inputs for `cfg` and build its plan; returns (plan, input notes)."""
    venue_info = venue(exchange or cfg.hedge.exchange)
    require_finite("--min-liq-distance", min_liq_distance_pct)
    if not 0 <= min_liq_distance_pct <= 100:
        raise InputError("--min-liq-distance", min_liq_distance_pct, "give a percent, 0-100")
    spec = HedgeSpec(
        ratio=cfg.hedge.ratio,
        leverage=cfg.hedge.leverage,
        exchange=venue_info.name,
        kind=cfg.hedge.kind,
        margin_mode=cfg.hedge.mode,
        rules=venue_info.liquidation_rules,
        order_type=cfg.hedge.order,
        min_liquidation_distance=min_liq_distance_pct / 100.0,
        max_funding_cost_apr=require_finite("--max-funding-cost", max_funding_cost_pct) / 100.0,
    )
    inverse = spec.kind.value == "inverse"
    unverified = require_for("plan", venue_info.name, coin_margined=inverse, live=live)
    market = plan_inputs.open_live(venue_info.name, spec.kind) if live else None
    inputs = plan_inputs.resolve(cfg, venue_info.name, spec.kind, plan_inputs.open_store(), market)
    plan = build_plan(inputs.portfolio, spec, inputs.prices, inputs.markets)
    return plan, inputs.notes + unverified_notes(venue_info.name, unverified)


def plan(
    portfolio: Path = _PORTFOLIO,
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
    live: bool = _LIVE,
    exchange: str | None = _EXCHANGE,
    min_liq_distance: float = _LIQ,
    max_funding_cost: float = _FUNDING,
) -> None:
    """The short perpetuals that would insure PORTFOLIO: sizes, margin, liquidation, funding."""
    cfg = load_portfolio(portfolio)
    hedge_plan, notes = make_plan(cfg, exchange, live, min_liq_distance, max_funding_cost)
    if as_json:
        print_json(plan_dict(hedge_plan, notes))
        return
    for item in plan_renderables(hedge_plan, notes):
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
    spec = StressSpec(
        shocks=parse_list("--shocks", shocks, 0.01),
        funding_per_8h=parse_list("--funding-range", funding_range, 0.01),
        horizon_days=require_finite("--horizon-days", horizon_days),
        basis_bp=parse_list("--basis-bp", basis_bp),
        squeezes=parse_list("--squeeze", squeeze, 0.01),
    )
    cfg = load_portfolio(portfolio)
    hedge_plan, _ = make_plan(cfg, exchange, live)
    result = run_stress(hedge_plan, spec)
    if plot is not None:
        title = f"{cfg.name}: hedge P&L under price shocks ({hedge_plan.spec.leverage:g}x)"
        written = write_chart(plot, stress_figure(result, title))
        err_console.print(f"chart written to {written}")
    if as_json:
        print_json(stress_dict(result))
        return
    for item in stress_renderables(result):
        console.print(item)


def register(app: typer.Typer) -> None:
    app.command("plan")(plan)
    app.command("stress")(stress)
