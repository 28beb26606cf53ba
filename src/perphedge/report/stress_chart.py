"""The stress figure: spot, hedge and net P&L against the price shock, liquidations marked."""

from __future__ import annotations

import plotly.graph_objects as go

from perphedge.hedge.stress import StressResult


def stress_figure(result: StressResult, title: str) -> go.Figure:
    """Lines of spot, hedge and net P&L (USD) per price shock; liquidated shocks as red crosses."""
    rows = result.price_shocks
    x = [o.shock for o in rows]
    fig = go.Figure()
    for name, values in (
        ("spot P&L", [o.spot_pnl for o in rows]),
        ("hedge P&L", [o.hedge_pnl for o in rows]),
        ("net (with funding and fees)", [o.net for o in rows]),
    ):
        fig.add_trace(go.Scatter(x=x, y=values, mode="lines+markers", name=name))
    lost = [o for o in rows if o.liquidated]
    if lost:
        fig.add_trace(
            go.Scatter(
                x=[o.shock for o in lost],
                y=[o.net for o in lost],
                mode="markers",
                marker={"symbol": "x", "size": 14, "color": "red"},
                name="short liquidated (hedge lost)",
            )
        )
    fig.update_layout(
        title={"text": title},
        xaxis={"title": "price shock", "tickformat": "+.0%"},
        yaxis={"title": f"USD over {result.spec.horizon_days:g} days"},
        template="plotly_white",
        hovermode="x unified",
    )
    return fig
