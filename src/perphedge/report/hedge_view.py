"""Views of `perphedge hedge open|rebalance|close|check|history`: the proposal, the run, the
journal, the account check, and the paper account's clock and marks. Tables for the terminal,
plain data for JSON; nothing here computes a hedge."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from rich.console import RenderableType
from rich.progress import Progress
from rich.text import Text

from perphedge.live.check import CheckResult
from perphedge.live.execute import LiveSession, Proposal, RunReport
from perphedge.live.monitor import liquidation_words
from perphedge.report.render import err_console, fmt_num, table
from perphedge.services.journal import RunHistory

LEG_HEADERS = ["symbol", "position", "working orders", "target", "after these orders"]
ORDER_HEADERS = ["symbol", "#", "side", "contracts", "type", "limit price", "reduce-only", "USD"]
RUN_HEADERS = ["client order id", "symbol", "side", "contracts", "status", "filled", "avg price"]
CHECK_HEADERS = ["symbol", "exchange", "journal", "in the file", "our open orders", "manual orders"]


def proposal_renderables(proposal: Proposal, where: str) -> list[RenderableType]:
    """The legs (position, working orders, target, after) and the orders of a proposal."""
    title = f"hedge {proposal.kind} on {where}: positions read back from the exchange"
    legs = [
        [leg.symbol, leg.position_contracts, leg.pending_contracts, leg.target_contracts,
         leg.position_contracts + leg.pending_contracts + leg.planned_contracts]
        for leg in proposal.legs
    ]  # fmt: skip
    out: list[RenderableType] = [table(title, LEG_HEADERS, legs)]
    orders = [
        [o.symbol, o.child_index, o.side.value, o.qty, o.order_type.value,
         "market" if o.price is None else o.price, "yes" if o.reduce_only else "no",
         fmt_num(o.notional_usd)]
        for leg in proposal.legs
        for o in leg.orders
    ]  # fmt: skip
    if orders:
        out.append(table("orders", ORDER_HEADERS, orders))
    out.append(
        Text(
            f"equity {fmt_num(proposal.equity_usd)} USD; gross notional after "
            f"{fmt_num(proposal.gross_after_usd)} USD"
        )
    )
    return out + [Text(f"note: {note}") for note in proposal.notes]


def order_count(proposal: Proposal) -> int:
    """How many orders the proposal sends (for the confirmation question)."""
    return sum(len(leg.orders) for leg in proposal.legs)


def run_renderables(report: RunReport) -> list[RenderableType]:
    """A run's orders as sent, and how many fills were journaled."""
    rows = [
        [o.client_order_id, o.symbol, o.side.value, o.qty, o.status, o.filled_qty,
         fmt_num(o.avg_price)]
        for o in report.orders
    ]  # fmt: skip
    return [
        table(f"run {report.intent_id}", RUN_HEADERS, rows),
        Text(f"{report.new_fills} new fill(s) journaled"),
    ]


def run_json(report: RunReport | None) -> object:
    if report is None:
        return None
    return {
        "intent_id": report.intent_id,
        "orders": list(report.orders),
        "new_fills": report.new_fills,
        "problems": list(report.problems),
    }


def hedge_run_json(
    proposal: Proposal,
    where: tuple[str, bool, bool],
    resumed: list[RunReport],
    report: RunReport | None,
) -> dict[str, Any]:
    """`hedge ... --json`: `where` is (exchange, paper, dry run)."""
    exchange, paper, dry_run = where
    return {
        "kind": proposal.kind, "exchange": exchange, "paper": paper, "dry_run": dry_run,
        "legs": list(proposal.legs), "notes": list(proposal.notes),
        "resumed": [run_json(r) for r in resumed], "report": run_json(report),
    }  # fmt: skip


def history_json(history: RunHistory) -> dict[str, Any]:
    return {
        "journal": str(history.path), "funding_received": history.funding_received,
        "fills": history.fills,
        "runs": [{"intent": r.intent, "orders": list(r.orders)} for r in history.runs],
    }  # fmt: skip


def history_renderables(history: RunHistory) -> list[RenderableType]:
    rows = [
        [r.intent.intent_id, r.intent.exchange, r.intent.status, len(r.orders), r.filled]
        for r in history.runs
    ]
    headers = ["run", "exchange", "status", "orders", "filled"]
    return [
        table(f"journal {history.path}", headers, rows),
        Text(f"{history.fills} fill(s); funding received {fmt_num(history.funding_received)}"),
    ]


def _in_file(symbol: str, planned: list[str] | None) -> str:
    if planned is None:
        return "-"
    return "yes" if symbol in planned else "NO"


def check_json(result: CheckResult, adopted: bool) -> dict[str, Any]:
    return {
        "account": result.account, "legs": list(result.legs), "problems": list(result.problems),
        "notes": list(result.notes), "adopted": adopted, "liquidated": list(result.liquidated),
    }  # fmt: skip


def check_renderables(result: CheckResult, planned: list[str] | None) -> list[RenderableType]:
    """The account against the journal, leg by leg; `planned`: the file's legs (None: no file)."""
    rows = [
        [leg.symbol, leg.exchange_contracts, leg.journal_contracts,
         _in_file(leg.symbol, planned), leg.pending_contracts, leg.manual_orders]
        for leg in result.legs
    ]  # fmt: skip
    lost = [
        f"liquidated {x.symbol}: {liquidation_words(x)}"
        for x in result.liquidated
        if x not in result.unjournaled  # those are named among the problems
    ]
    lines = [Text(line) for line in (*result.notes, *result.problems, *lost)]
    return [table(f"check {result.account}", CHECK_HEADERS, rows), *lines]


@contextmanager
def order_progress(session: LiveSession) -> Iterator[None]:
    """A progress bar on stderr while orders are worked."""
    with Progress(console=err_console, transient=True, disable=not err_console.is_terminal) as bar:
        task = bar.add_task("orders", total=None)

        def show(done: int, total: int, text: str) -> None:
            bar.update(task, completed=done, total=total, description=text)

        session.progress = show
        try:
            yield
        finally:
            session.progress = None
