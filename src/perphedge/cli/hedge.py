"""`perphedge hedge open|rebalance|close PORTFOLIO` and `perphedge monitor PORTFOLIO`.

Dry run by default: the orders are computed from the positions and open orders read back from
the exchange and printed. They are sent only with `--execute`, after a confirmation (or `--yes`).
Every run that sends is journaled first (PERPHEDGE_HOME/journal.sqlite); an interrupted run is
finished by the next `--execute` run before anything new is planned.
"""

from __future__ import annotations

from contextlib import nullcontext
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated

import typer
from rich.console import RenderableType
from rich.text import Text

from perphedge.cli.accounts import (
    BASE_URL,
    EXCHANGE,
    JSON,
    LIVE_PRICES,
    PAPER,
    PORTFOLIO,
    open_ports,
    open_said,
)
from perphedge.config import load_portfolio
from perphedge.errors import InputError, require_non_negative, require_positive
from perphedge.hedge.orders import ExecutionLimits
from perphedge.live.check import AccountRef, adopt, check_account, require_agreement
from perphedge.live.execute import LiveSession, RunReport, exclusive_run
from perphedge.live.liquidations import require_hedged
from perphedge.live.session import Ports
from perphedge.report.hedge_view import (
    check_json,
    check_renderables,
    hedge_run_json,
    history_json,
    history_renderables,
    order_count,
    order_progress,
    proposal_renderables,
    run_renderables,
)
from perphedge.report.paper_view import paper_marks_json, paper_marks_lines
from perphedge.report.render import console, err_console, print_json
from perphedge.services.accounts import (
    AccountRequest,
    open_venue_account,
)
from perphedge.services.hedge_run import (
    PreparedRun,
    RunChoice,
    hedge_session,
    journal_key,
    prepare_run,
    send_prepared,
    settle_run,
)
from perphedge.services.journal import run_history
from perphedge.services.targets import hedge_symbols
from perphedge.store.journal import Journal
from perphedge.store.paths import home_dir
from perphedge.venues.registry import venue

hedge_app = typer.Typer(
    help="Open, rebalance or close the hedge on an exchange (dry run unless --execute).",
    no_args_is_help=True,
)


@dataclass(frozen=True)
class HedgeArgs:
    portfolio: Path
    exchange: str | None
    paper: bool
    execute: bool
    yes: bool
    limits: ExecutionLimits
    order_timeout_s: float
    min_drift: float
    json_out: bool
    base_url: str | None
    live_prices: bool = False
    only: bool = False  # close: only the legs of the file
    force: bool = False  # send even beside another perphedge run on the account


def _where(ports: Ports, real: str = "") -> str:
    return f"{ports.exchange} (paper)" if ports.paper else f"{ports.exchange}{real}"


def _say(items: list[RenderableType]) -> None:
    for item in items:
        console.print(item, highlight=False)


def run_hedge(kind: str, args: HedgeArgs) -> None:
    config = load_portfolio(args.portfolio)
    if args.exchange:  # the plan (its rules and messages) is for the venue the run is on
        hedge = config.hedge.model_copy(update={"exchange": venue(args.exchange).name})
        config = replace(config, hedge=hedge)
    request = AccountRequest(args.exchange, args.paper, args.base_url, live_prices=args.live_prices)
    opened = open_said(config, request)
    ports = opened.ports
    guard = exclusive_run(home_dir()) if args.execute else nullcontext()
    choice = RunChoice(args.execute, args.min_drift, args.only, args.force)
    with Journal.in_home() as journal, guard:
        session = hedge_session(ports, journal, home_dir(), args.order_timeout_s)
        with order_progress(session):
            prepared = prepare_run(config, kind, session, args.limits, choice)
        _say_prepared(prepared, args)
        if opened.marks is not None and not args.json_out:
            _say([Text(line) for line in paper_marks_lines(opened.marks)])
        report = _decide_and_send(session, prepared, ports, args)
        if args.json_out:
            where = (ports.exchange, ports.paper, not args.execute)
            body = hedge_run_json(prepared.proposal, where, list(prepared.resumed), report)
            print_json(body | paper_marks_json(opened.marks))
        settle_run(session, prepared, report, _next_step(kind, args))


def _say_prepared(prepared: PreparedRun, args: HedgeArgs) -> None:
    if prepared.interrupted and not args.execute:
        err_console.print("note: an interrupted run is pending; --execute finishes it first")
    for report in prepared.resumed:
        err_console.print(f"finished interrupted run {report.intent_id}", highlight=False)
        if not args.json_out:
            _say(run_renderables(report))
    for w in prepared.unhedged:  # a leg the plan could not open leaves coins unhedged
        err_console.print(f"warning {w.subject}: {w.message}", highlight=False)
    for line in prepared.left:
        err_console.print(f"note: {line}", markup=False, highlight=False)


def _next_step(kind: str, args: HedgeArgs) -> str:
    where = " --paper" if args.paper else ""
    if kind == "close":
        return f"run perphedge hedge close {args.portfolio}{where} --execute again"
    return f"run perphedge hedge rebalance {args.portfolio}{where} --execute to finish the hedge"


def _decide_and_send(
    session: LiveSession, prepared: PreparedRun, ports: Ports, args: HedgeArgs
) -> RunReport | None:
    proposal = prepared.proposal
    if not args.json_out:
        _say(proposal_renderables(proposal, _where(ports)))
    if not proposal.has_orders:
        err_console.print("nothing to do: the exchange already matches the target")
        return None
    if not args.execute:
        err_console.print("dry run: nothing sent (add --execute to send these orders)")
        return None
    count = order_count(proposal)
    where = _where(ports, " (REAL MONEY)")
    if not args.yes and not typer.confirm(f"Send {count} order(s) to {where}?", err=True):
        err_console.print("cancelled: nothing sent")
        raise typer.Exit(1)
    with order_progress(session):
        report = send_prepared(session, prepared, str(args.portfolio))
    if report is not None and not args.json_out:
        _say(run_renderables(report))
    return report


_EXECUTE = typer.Option(False, "--execute", help="Send the orders (asks first).")
_YES = typer.Option(False, "--yes", help="Do not ask for confirmation.")
_MARKET = typer.Option(False, "--market", help="Market orders instead of limits.")
_MAX_ORDER = typer.Option(
    100_000.0, "--max-order-notional", help="Refuse a leg whose orders total more USD than this."
)
_CHILD = typer.Option(10_000.0, "--child-notional", help="Child orders of at most this many USD.")
_SLIPPAGE = typer.Option(
    0.002, "--slippage-cap", help="Limit price at most this fraction beyond the mark."
)
_MAX_LEVERAGE = typer.Option(
    5.0, "--max-leverage", help="Refuse when gross notional / equity would exceed this."
)
MAX_PRICE_AGE_S = 86_400.0
_PRICE_AGE = typer.Option(120.0, "--max-price-age", help="Refuse prices older than this (s).")
_TIMEOUT = typer.Option(
    30.0, "--order-timeout", help="Seconds to wait for a limit order before cancelling the rest."
)
_ONLY = typer.Option(
    False, "--only", help="close: only the legs of this file (default: every leg perphedge opened)."
)
_FORCE = typer.Option(
    False, "--force", help="Send even when another perphedge run trades the same symbols."
)
_MIN_DRIFT = typer.Option(
    0.02, "--min-drift", help="rebalance: leave legs within this fraction of target."
)


def _hedge_command(kind: str, help_text: str) -> None:
    def command(
        portfolio: Annotated[Path, PORTFOLIO],
        exchange: str | None = EXCHANGE,
        paper: bool = PAPER,
        live_prices: bool = LIVE_PRICES,
        do_execute: bool = _EXECUTE,
        yes: bool = _YES,
        market: bool = _MARKET,
        max_order_notional: float = _MAX_ORDER,
        child_notional: float = _CHILD,
        slippage_cap: float = _SLIPPAGE,
        max_leverage: float = _MAX_LEVERAGE,
        max_price_age: float = _PRICE_AGE,
        order_timeout: float = _TIMEOUT,
        min_drift: float = _MIN_DRIFT,
        json_out: bool = JSON,
        only: bool = _ONLY,
        force: bool = _FORCE,
        base_url: str | None = BASE_URL,
    ) -> None:
        if only and kind != "close":
            raise InputError("--only", True, "only hedge close takes --only")
        for name, value in (
            ("--max-order-notional", max_order_notional), ("--child-notional", child_notional),
            ("--max-leverage", max_leverage), ("--max-price-age", max_price_age),
        ):  # fmt: skip
            require_positive(name, value)
        if max_price_age > MAX_PRICE_AGE_S:
            raise InputError("--max-price-age", max_price_age, "give at most 86400 s (a day)")
        for name, value in (
            ("--slippage-cap", slippage_cap), ("--order-timeout", order_timeout),
            ("--min-drift", min_drift),
        ):  # fmt: skip
            require_non_negative(name, value)
        limits = ExecutionLimits(
            max_order_notional, child_notional, slippage_cap, int(max_price_age * 1000),
            max_leverage, market,
        )  # fmt: skip
        args = HedgeArgs(
            portfolio, exchange, paper, do_execute, yes, limits, order_timeout, min_drift,
            json_out, base_url, live_prices, only, force,
        )  # fmt: skip
        run_hedge(kind, args)

    command.__doc__ = help_text
    hedge_app.command(kind, help=help_text)(command)


_hedge_command("open", "Open the hedge the portfolio file describes.")
_hedge_command("rebalance", "Bring legs that drifted more than --min-drift back to target.")
_hedge_command("close", "Close the hedge: reduce-only orders back to zero.")


def register(app: typer.Typer) -> None:
    from perphedge.cli.keep import keep_command
    from perphedge.cli.margin import margin_app

    hedge_app.add_typer(margin_app, name="margin")
    hedge_app.command("keep")(keep_command)
    app.add_typer(hedge_app, name="hedge")


@hedge_app.command("history")
def history(
    limit: int = typer.Option(10, "--limit", help="Show the last N runs."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """The journal: recent runs with their orders, fills and funding received."""
    if limit <= 0:
        raise InputError("--limit", limit, "give a number of runs > 0")
    with Journal.in_home() as journal:
        runs = run_history(journal, limit)
    if json_out:
        print_json(history_json(runs))
        return
    _say(history_renderables(runs))


def _check_ports(
    portfolio: Path | None, exchange: str | None, paper: bool, base_url: str | None
) -> tuple[Ports, list[str] | None]:
    """The account to check and the file's legs (None: no file given)."""
    if portfolio is None:
        return open_venue_account(exchange, paper, home_dir(), base_url), None
    config = load_portfolio(portfolio)
    return open_ports(config, exchange, paper, base_url, "monitor"), hedge_symbols(config)


@hedge_app.command("check")
def check(
    portfolio: Annotated[
        Path | None, typer.Argument(help="Portfolio TOML file (optional).")
    ] = None,
    exchange: str | None = EXCHANGE,
    paper: bool = PAPER,
    adopt_: bool = typer.Option(
        False, "--adopt", help="Take the exchange's positions as the truth and journal that."
    ),
    json_out: bool = JSON,
    base_url: str | None = BASE_URL,
) -> None:
    """Compare the account with the journal: positions, the last run's orders and fills.

    Exit 5 when they disagree (every --execute run checks this before and after sending), or
    when the exchange's record shows a leg liquidated and not re-opened since.
    """
    ports, planned = _check_ports(portfolio, exchange, paper, base_url)
    with Journal.in_home() as journal:
        ref = AccountRef(journal_key(ports), ports.account_id)
        result = check_account(journal, ports.account, ports.execution, ref, planned or [])
        if adopt_:
            adopt(journal, result, ports.clock.now_ms())
    if json_out:
        print_json(check_json(result, adopt_))
    else:
        _say(check_renderables(result, planned))
    if adopt_:
        err_console.print("adopted: the journal now takes these positions as the truth")
    elif not result.ok:
        require_agreement(result, "check")
    else:
        err_console.print("the account agrees with the journal")
        require_hedged(result.liquidated)
