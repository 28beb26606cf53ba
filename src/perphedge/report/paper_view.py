"""Tables and JSON of `perphedge paper show`: balances, every position and its funding."""

from __future__ import annotations

from typing import Any

from rich.console import RenderableType

from perphedge.report.render import currency_digits, fmt_num, jsonable, key_value_table, table
from perphedge.services.paper import PaperMarks, PaperOpened, PaperView
from perphedge.units import utc_text


def sim_time(ts_ms: int) -> str:
    """'2026-06-15 08:00 UTC'."""
    return utc_text(ts_ms)


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
        "spot_usdt": float(view.spot_usdt),
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
        *((("USDT spot wallet", fmt_num(view.spot_usdt, 2)),) if view.spot_usdt else ()),
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


def paper_marks_lines(marks: PaperMarks) -> list[str]:
    """Notes on where the replay started, then 'paper prices at simulated now 2026-05-17 00:00
    UTC: BTC/USDT:USDT 60,000.00, ...'."""
    quotes = ", ".join(f"{q.symbol} {fmt_num(q.price)}" for q in marks.marks) or "none"
    lines = [] if marks.start_note is None else [f"note: {marks.start_note}"]
    return [*lines, f"paper prices at simulated now {sim_time(marks.now_ms)}: {quotes}"]


def paper_marks_json(marks: PaperMarks | None) -> dict[str, Any]:
    """{"paper_prices": ...} for a replayed paper account, else nothing."""
    if marks is None:
        return {}
    prices = {q.symbol: float(q.price) for q in marks.marks}
    when = sim_time(marks.now_ms)
    return {"paper_prices": {"simulated_now": when, "marks": prices, "note": marks.start_note}}


def reset_lines(opened: PaperOpened) -> list[str]:
    """What `paper reset` says about the new account: wallets and simulated now, notes (where
    the replay starts), the marks it trades at, and how it was funded."""
    wallets = ", ".join(
        f"{fmt_num(b.total, currency_digits(b.currency))} {b.currency}" for b in opened.balances
    )
    lines = [f"new paper account: {wallets}; simulated now {sim_time(opened.marks.now_ms)}"]
    lines += paper_marks_lines(opened.marks)
    if opened.deposit is not None:
        lines.append(f"note: {opened.deposit.note}")
    return lines
