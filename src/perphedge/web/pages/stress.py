"""Stress: move prices with a slider and pick a funding regime; chart and table follow.

Each change asks the stress service for the plan under a grid of price moves at the chosen funding
rate; the chart draws the whole grid with the liquidation threshold, the table the usual moves
plus the chosen one, each outcome in words (a liquidation reads as the loss it is).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from perphedge.errors import InputError
from perphedge.hedge.stress import DEFAULT_SHOCKS, StressSpec
from perphedge.report.explain import nearest_liquidation, outcome_words
from perphedge.report.plan_view import prevention_line
from perphedge.report.stress_chart import STRESS_HEADERS, outcome_row, stress_figure
from perphedge.services.plan import PlanRequest, stress_portfolio
from perphedge.web.views import adapters_of, render, workspace_of

CHART_SHOCKS = tuple(s / 100 for s in range(-90, 205, 5))
REGIMES = (  # (value, label); rates per 8 h in percent
    ("planned", "as planned (recent average)"),
    ("-0.1", "-0.10 % per 8 h: shorts pay a lot (crash panic)"),
    ("-0.03", "-0.03 % per 8 h: shorts pay (bear market)"),
    ("0", "0: nothing exchanged"),
    ("0.01", "+0.01 % per 8 h: the usual rate, shorts earn"),
    ("0.05", "+0.05 % per 8 h: shorts earn well (bull market)"),
    ("0.1", "+0.10 % per 8 h: shorts earn a lot (euphoria)"),
)


def _number(request: Request, key: str, default: float, low: float, high: float) -> float:
    text = request.query_params.get(key, "").strip() or f"{default}"
    try:
        value = float(text)
    except ValueError:
        raise InputError(key, text, "give a number") from None
    if not low <= value <= high:
        raise InputError(key, text, f"give a number from {low:g} to {high:g}")
    return value


def _choice(request: Request) -> tuple[str, float | None]:
    regime = request.query_params.get("funding", "planned")
    if regime not in dict(REGIMES):
        raise InputError("funding", regime, f"use one of {', '.join(dict(REGIMES))}")
    return regime, None if regime == "planned" else float(regime) / 100


def stress_view(request: Request) -> Response:
    """The page (or, for htmx, just the result) for the chosen move, regime and horizon."""
    config = workspace_of(request).config
    if config is None:
        return render(request, "no_portfolio.html", active="stress", heading="Stress")
    shock_pct = _number(request, "shock", 20.0, -90.0, 200.0)
    days = _number(request, "days", 30.0, 1.0, 365.0)
    regime, rate = _choice(request)
    shocks = tuple(sorted({*CHART_SHOCKS, *DEFAULT_SHOCKS, shock_pct / 100}))
    spec = StressSpec(shocks=shocks, horizon_days=days, shock_funding_per_8h=rate)
    ports = adapters_of(request)
    stressed = stress_portfolio(config, PlanRequest(), spec, ports.history(), ports.clock)
    leg = nearest_liquidation(stressed.planned.plan)
    threshold = leg.liquidation_distance if leg is not None else None
    figure = stress_figure(stressed.stress, "What you gain or lose", threshold, shock_pct / 100)
    table_shocks = {*DEFAULT_SHOCKS, shock_pct / 100}
    rows = [o for o in stressed.stress.price_shocks if o.shock in table_shocks]
    chosen = next(o for o in rows if o.shock == shock_pct / 100)
    return render(
        request,
        "stress_result.html" if request.headers.get("hx-request") else "stress.html",
        charts=True,
        regimes=REGIMES,
        regime=regime,
        shock_pct=shock_pct,
        days=days,
        headers=("price move", *STRESS_HEADERS[1:]),
        rows=[(o, outcome_row(o)) for o in rows],
        chosen=chosen,
        chosen_words=outcome_words(chosen.net, chosen.hedge_pnl, chosen.liquidated),
        prevention=prevention_line(chosen),
        threshold=threshold,
        figure_json=figure.to_json(),
    )


ROUTES = [Route("/stress", stress_view), Route("/stress/view", stress_view)]
