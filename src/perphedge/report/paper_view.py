"""Tables and JSON of `perphedge paper show`: balances, every position and its funding."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from rich.console import RenderableType

from perphedge.report.render import currency_digits, fmt_num, jsonable, key_value_table, table
from perphedge.services.paper import PaperView


def sim_time(ts_ms: int) -> str:
    """'2026-06-15 08:00 UTC'."""
    return datetime.fromtimestamp(ts_ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


def _by_currency(view: PaperView) -> dict[str, float]:
    out: dict[str, float] = {}
    for pay in view.funding:
        out[pay.currency] = out.get(pay.currency, 0.0) + float(pay.amount)
    return out


def paper_json(view: PaperView) -> dict[str, Any]:
    """The view as JSON-ready data; positions carry their funding and `in_file`."""
    by_currency = _by_currency(view)
    return {
        "simulated_now": sim_time(view.now_ms),
        "balances": jsonable(view.balances),
        "positions": [
            {**jsonable(p.state), "funding_received": float(p.funding_total), "in_file": p.in_file}
            for p in view.positions
        ],
        "open_orders": jsonable(view.open_orders),
        "funding_received": sum(by_currency.values()),
        "funding_received_by_currency": by_currency,
        "funding_payments": jsonable(view.funding),
    }


def paper_renderables(view: PaperView, exchange: str) -> list[RenderableType]:
    """Account summary, then one row per position (flagged when the file does not plan it)."""
    account = [
        ("simulated now", sim_time(view.now_ms)),
        *(
            (f"{b.currency} wallet", fmt_num(b.total, currency_digits(b.currency)))
            for b in view.balances
        ),
        *(
            (f"funding received {c}", fmt_num(v, currency_digits(c)))
            for c, v in _by_currency(view).items()
        ),
        ("open orders", str(len(view.open_orders))),
    ]
    rows = [
        [
            p.state.symbol,
            p.state.contracts,
            fmt_num(p.state.entry_price),
            fmt_num(p.state.mark_price),
            fmt_num(p.state.liquidation_price),
            fmt_num(p.funding_total, 8),
            "" if p.in_file is None else ("yes" if p.in_file else "NOT IN THE FILE"),
        ]
        for p in view.positions
    ]
    headers = ["symbol", "contracts", "entry", "mark", "liquidation", "funding", "in file"]
    return [
        key_value_table(f"paper account on {exchange}", account),
        table("positions", headers, rows),
    ]
