"""The stress figure and report: spot, hedge and net P&L against the price shock, liquidation drawn.

The liquidation threshold (the smallest price rise that liquidates a short) is a dashed red
vertical line; shocks past it that liquidate a short are red crosses labelled as a loss.
"""

from __future__ import annotations

from pathlib import Path

import plotly.graph_objects as go

from perphedge.hedge.model import HedgePlan
from perphedge.hedge.stress import Outcome, StressResult
from perphedge.report.explain import EXPLAIN, nearest_liquidation, outcome_words, signed_usd
from perphedge.report.page import ReportPage, render_page, table_html, write_page
from perphedge.report.plan_view import prevention_lines
from perphedge.report.render import fmt_num, fmt_pct


def stress_figure(
    result: StressResult,
    title: str,
    liquidation_shock: float | None = None,
    chosen_shock: float | None = None,
) -> go.Figure:
    """Lines of spot, hedge and net P&L (USD) per price shock; liquidations marked as losses."""
    rows = result.price_shocks
    x = [o.shock for o in rows]
    fig = go.Figure()
    for name, values in (
        ("your coins", [o.spot_pnl for o in rows]),
        ("the short", [o.hedge_pnl for o in rows]),
        ("net (with funding and fees)", [o.net for o in rows]),
    ):
        fig.add_trace(go.Scatter(x=x, y=values, mode="lines", name=name))
    lost = [o for o in rows if o.liquidated]
    if lost:
        fig.add_trace(
            go.Scatter(
                x=[o.shock for o in lost],
                y=[o.hedge_pnl for o in lost],
                mode="markers",
                marker={"symbol": "x", "size": 9, "color": "#b3261e"},
                name="short liquidated: margin lost",
            )
        )
    if liquidation_shock is not None:
        fig.add_vline(
            x=liquidation_shock,
            line={"color": "#b3261e", "dash": "dash"},
            annotation_text=f"liquidation at {liquidation_shock:+.1%}",
            annotation_position="top left",
        )
    if chosen_shock is not None:
        fig.add_vline(x=chosen_shock, line={"color": "#14213d", "width": 1})
    fig.update_layout(
        title={"text": title},
        xaxis={"title": "price move", "tickformat": "+.0%"},
        yaxis={"title": f"USD over {result.spec.horizon_days:g} days"},
        template="plotly_white",
        hovermode="x unified",
        legend={"orientation": "h", "y": -0.2},
        margin={"l": 60, "r": 20, "t": 60, "b": 40},
    )
    return fig


STRESS_HEADERS = (
    "scenario", "your coins", "the short", "funding", "fees", "net", "margin used",
    "you own after", "margin to add", "in words",
)  # fmt: skip
COLUMN_KEYS = ("spot", "hedge", "funding", "net", "margin", "after", "top_up")


def outcome_row(o: Outcome) -> tuple[str, ...]:
    """One scenario as table cells, a liquidation written as the loss it is."""
    return (
        o.label,
        signed_usd(o.spot_pnl),
        signed_usd(o.hedge_pnl),
        signed_usd(o.funding),
        signed_usd(-o.fees),
        signed_usd(o.net),
        "LIQUIDATED" if o.liquidated else fmt_pct(o.margin_ratio, 1),
        fmt_num(o.value_after, 0),
        fmt_num(o.top_up, 0) if o.top_up > 0 else "—",
        outcome_words(o.net, o.hedge_pnl, o.liquidated),
    )


def write_stress_report(path: Path, title: str, plan: HedgePlan, result: StressResult) -> Path:
    """The stress report file: inputs, the chart with the liquidation line, every scenario."""
    spec, hedge = result.spec, plan.spec
    leg = nearest_liquidation(plan)
    threshold = None if leg is None else leg.liquidation_distance
    inputs = (
        ("hedge", f"{hedge.exchange} {hedge.kind.value}, {hedge.margin_mode.value} margin, "
                  f"{hedge.leverage:g}x, ratio {hedge.ratio:g}"),
        ("your coins", f"{fmt_num(plan.total_exposure)} USD"),
        ("short", f"{fmt_num(plan.hedge_notional)} USD, margin {fmt_num(plan.initial_margin)} USD"),
        ("held for", f"{spec.horizon_days:g} days after each move"),
        ("price moves", ", ".join(f"{s:+.0%}" for s in spec.shocks)),
    )  # fmt: skip
    families = (
        ("Price moves (planned funding)", result.price_shocks),
        ("Funding regimes (prices still)", result.funding),
        ("Basis: the perpetual apart from spot", result.basis),
        ("Short squeeze: a spike and back", result.squeezes),
    )
    tables = "".join(
        f"<h2>{name}</h2>"
        + table_html(STRESS_HEADERS, [outcome_row(o) for o in rows], words_last=True)
        for name, rows in families
        if rows
    )
    explanations = tuple((key.replace("_", " "), EXPLAIN[key]) for key in COLUMN_KEYS)
    figure = stress_figure(result, title, threshold)
    page = ReportPage(title, inputs, (figure,), tables, explanations, prevention_lines(result))
    return write_page(path, render_page(page), "--plot")
