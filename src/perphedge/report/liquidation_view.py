"""Table and JSON of `perphedge liquidation`: one position's margins and liquidation price."""

from __future__ import annotations

from typing import Any

from rich.table import Table

from perphedge.margin import PositionRisk
from perphedge.report.render import fmt_num, fmt_pct, jsonable, key_value_table


def liquidation_json(risk: PositionRisk) -> dict[str, Any]:
    """Every field of the risk, plus `liquidated`."""
    return {**jsonable(risk), "liquidated": risk.liquidated}


def liquidation_table(risk: PositionRisk) -> Table:
    """Liquidation and bankruptcy price, distance, margins, ratio and tier."""
    unit = risk.settle_unit
    note = " (approximate)" if risk.approximate else ""
    no_liq = "none (no liquidation on this side)"
    digits = 8 if unit == "coin" else 2
    return key_value_table(
        f"Position risk — {risk.rules.value} rules{note}",
        [
            (
                "liquidation price",
                fmt_num(risk.liquidation_price) if risk.liquidation_price else no_liq,
            ),
            (
                "bankruptcy price",
                fmt_num(risk.bankruptcy_price) if risk.bankruptcy_price else no_liq,
            ),
            (
                "distance to liquidation",
                "none: the mark is past it (liquidated)"
                if risk.liquidated
                else fmt_pct(risk.distance_to_liquidation),
            ),
            (f"initial margin ({unit})", fmt_num(risk.initial_margin, digits)),
            (f"maintenance margin ({unit})", fmt_num(risk.maintenance_margin, digits)),
            (f"margin balance ({unit})", fmt_num(risk.margin_balance, digits)),
            (
                "margin ratio (MM / balance)",
                fmt_pct(risk.margin_ratio) if risk.margin_balance > 0 else "∞ (balance ≤ 0)",
            ),
            (f"notional at mark ({unit})", fmt_num(risk.notional, digits)),
            ("tier MMR / cum", f"{risk.mmr:.4%} / {fmt_num(risk.cum, digits)}"),
        ],
    )
