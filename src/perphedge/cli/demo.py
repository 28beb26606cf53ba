"""`perphedge demo`: the main job on bundled data (until the planner exists: margin examples)."""

from __future__ import annotations

import typer

from perphedge import tier_tables
from perphedge.funding import SIGN_RULE, apr
from perphedge.instruments import ContractKind, TierTable
from perphedge.margin import Position, Side, position_risk
from perphedge.report.render import console, fmt_num, fmt_pct, table


def demo() -> None:
    """Show why leverage matters for a short hedge: liquidation distance by leverage."""
    tiers = tier_tables.bundled("binance:BTCUSDT")
    entry = 60_000.0
    rows = []
    for leverage in (1, 2, 3, 5, 10):
        risk = position_risk(Position(Side.SHORT, 1.0, entry), leverage=leverage, tiers=tiers)
        rows.append(
            (
                f"{leverage}x",
                fmt_num(risk.initial_margin),
                fmt_num(risk.liquidation_price),
                fmt_pct(risk.distance_to_liquidation),
            )
        )
    console.print(
        table(
            f"Short 1 BTC BTCUSDT @ {entry:,.0f}, isolated (tiers {tiers.as_of})",
            ["leverage", "initial margin USDT", "liquidation price", "rally to liquidation"],
            rows,
        )
    )
    inverse = Position(Side.SHORT, 600, entry, ContractKind.INVERSE, 100.0)
    risk = position_risk(inverse, leverage=1, tiers=TierTable.flat(0.004))
    console.print(
        f"Coin-margined: short 600 BTCUSD contracts (100 USD) backed by 1 BTC -> liquidation: "
        f"{'none' if risk.liquidation_price is None else fmt_num(risk.liquidation_price)}"
    )
    console.print(f"Funding: {SIGN_RULE}. 0.01 % per 8 h = {fmt_pct(apr(0.0001, 8))} a year.")


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
