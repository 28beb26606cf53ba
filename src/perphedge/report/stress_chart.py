"""The stress figure: spot, hedge and net P&L against the price shock, liquidation drawn.

The liquidation threshold (the smallest price rise that liquidates a short) is a dashed red
vertical line; shocks past it that liquidate a short are red crosses labelled as a loss.
"""

from __future__ import annotations

import plotly.graph_objects as go

from perphedge.hedge.stress import StressResult


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
