"""`perphedge hedge open|rebalance|close PORTFOLIO` and `perphedge monitor PORTFOLIO`.

Dry run by default: the orders are computed from the positions and open orders read back from
the exchange and printed. They are sent only with `--execute`, after a confirmation (or `--yes`).
Every run that sends is journaled first (PERPHEDGE_HOME/journal.sqlite); an interrupted run is
finished by the next `--execute` run before anything new is planned.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass, replace
from decimal import Decimal
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import Progress

from perphedge.cli import wiring
from perphedge.config import PortfolioConfig, load_portfolio
from perphedge.errors import (
    CapabilityError,
    InputError,
    PartialRunError,
    require_non_negative,
    require_positive,
)
from perphedge.exchanges.capabilities import require_for, unverified_notes
from perphedge.hedge.orders import ExecutionLimits, LegTarget
from perphedge.instruments import ContractKind
from perphedge.live.check import (
    AccountRef,
    adopt,
    check_account,
    gate_after,
    gate_before,
    require_agreement,
)
from perphedge.live.closing import close_targets
from perphedge.live.execute import (
    LiveSession,
    Proposal,
    RunOptions,
    RunReport,
    check_kill_switch,
    check_withdrawals,
    exclusive_run,
    execute,
    propose,
    resume_open_intents,
)
from perphedge.live.guard import other_runs, require_alone
from perphedge.live.session import (
    Ports,
    live_ports,
    paper_live_ports,
    paper_ports,
)
from perphedge.report.render import console, err_console, fmt_num, print_json, table
from perphedge.services.hedge_run import journal_key, new_paper_deposit
from perphedge.services.targets import coin_deposits, run_targets
from perphedge.store.journal import Journal
from perphedge.store.paths import home_dir
from perphedge.symbols import perp_symbol
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


def open_ports(
    config: PortfolioConfig,
    exchange: str | None,
    paper: bool,
    base_url: str | None,
    command: str = "hedge",
    live_prices: bool = False,
) -> Ports:
    """Ports for the portfolio's venue (or `exchange`), paper or real.

    First checks that the venue can do what `command` needs (CapabilityError naming the gap);
    capabilities ccxt claims without a recorded proof are named as warnings.
    """
    name = venue(exchange or config.hedge.exchange).name
    inverse = config.hedge.kind is ContractKind.INVERSE
    for note in unverified_notes(
        name, require_for(command, name, coin_margined=inverse, live=not paper)
    ):
        err_console.print(f"warning: {note}", highlight=False)
    if paper and live_prices:
        if inverse:
            raise CapabilityError(
                "--live-prices simulates USDT-margined contracts only; use --paper alone for "
                "coin-margined ones"
            )
        return paper_live_ports(name, home_dir(), base_url)
    if paper:
        symbols = [perp_symbol(h.hedge_asset, config.hedge.kind) for h in config.portfolio.holdings]
        ports = paper_ports(
            name, home_dir(), list(dict.fromkeys(symbols)), inverse, coin_deposits(config),
            initial_usdt=_new_paper_deposit(config, name, inverse),
        )  # fmt: skip
        for note in ports.notes:
            err_console.print(f"note: {note}", markup=False, highlight=False)
        return ports
    return live_ports(name, base_url, config.hedge.contract)


def _new_paper_deposit(config: PortfolioConfig, name: str, inverse: bool) -> Decimal | None:
    """A new USDT paper account holds the plan's initial margin plus its reserve (paper show
    prints the wallet; paper reset PORTFOLIO --deposit USD funds it otherwise)."""
    adapters = wiring.current()
    return new_paper_deposit(config, name, home_dir(), adapters.history(), adapters.clock)


def account_name(ports: Ports) -> str:
    """How the account is named to people: "paper:binance" or "binance"."""
    return f"paper:{ports.exchange}" if ports.paper else ports.exchange


def _targets(
    kind: str, config: PortfolioConfig, session: LiveSession, min_drift: float, only: bool
) -> list[LegTarget]:
    found = run_targets(kind, config, session.market, session.account, min_drift)
    for w in found.unhedged:  # a leg the plan could not open leaves coins unhedged
        err_console.print(f"warning {w.subject}: {w.message}", highlight=False)
    if kind != "close":
        return list(found.targets)
    targets, left = close_targets(
        found.targets, session.journal, session.account, session.account_key, only
    )
    for line in left:
        err_console.print(f"note: {line}", markup=False, highlight=False)
    return targets


LEG_HEADERS = ["symbol", "position", "working orders", "target", "after these orders"]
ORDER_HEADERS = ["symbol", "#", "side", "contracts", "type", "limit price", "reduce-only", "USD"]


def _print_proposal(proposal: Proposal, ports: Ports) -> None:
    where = f"{ports.exchange} (paper)" if ports.paper else ports.exchange
    title = f"hedge {proposal.kind} on {where}: positions read back from the exchange"
    legs = [
        [leg.symbol, leg.position_contracts, leg.pending_contracts, leg.target_contracts,
         leg.position_contracts + leg.pending_contracts + leg.planned_contracts]
        for leg in proposal.legs
    ]  # fmt: skip
    console.print(table(title, LEG_HEADERS, legs))
    orders = [
        [o.symbol, o.child_index, o.side.value, o.qty, o.order_type.value,
         "market" if o.price is None else o.price, "yes" if o.reduce_only else "no",
         fmt_num(o.notional_usd)]
        for leg in proposal.legs
        for o in leg.orders
    ]  # fmt: skip
    if orders:
        console.print(table("orders", ORDER_HEADERS, orders))
    console.print(
        f"equity {fmt_num(proposal.equity_usd)} USD; gross notional after "
        f"{fmt_num(proposal.gross_after_usd)} USD",
        highlight=False,
    )
    for note in proposal.notes:
        console.print(f"note: {note}", markup=False, highlight=False)


def _print_report(report: RunReport) -> None:
    console.print(
        table(
            f"run {report.intent_id}",
            ["client order id", "symbol", "side", "contracts", "status", "filled", "avg price"],
            [
                [
                    o.client_order_id,
                    o.symbol,
                    o.side.value,
                    o.qty,
                    o.status,
                    o.filled_qty,
                    fmt_num(o.avg_price),
                ]
                for o in report.orders
            ],
        )
    )
    console.print(f"{report.new_fills} new fill(s) journaled", highlight=False)


def _report_json(report: RunReport | None) -> object:
    if report is None:
        return None
    return {
        "intent_id": report.intent_id,
        "orders": list(report.orders),
        "new_fills": report.new_fills,
        "problems": list(report.problems),
    }


def _session(ports: Ports, journal: Journal, args: HedgeArgs) -> LiveSession:
    poll_s = min(1.0, args.order_timeout_s / 5 or 1.0)
    options = RunOptions(order_timeout_s=args.order_timeout_s, poll_interval_s=poll_s)
    return LiveSession(
        journal_key(ports), ports.account, ports.execution, ports.market, ports.clock, journal,
        home_dir(), options, account_id=ports.account_id,
    )  # fmt: skip


def run_hedge(kind: str, args: HedgeArgs) -> None:
    config = load_portfolio(args.portfolio)
    if args.exchange:  # the plan (its rules and messages) is for the venue the run is on
        hedge = config.hedge.model_copy(update={"exchange": venue(args.exchange).name})
        config = replace(config, hedge=hedge)
    ports = open_ports(
        config, args.exchange, args.paper, args.base_url, live_prices=args.live_prices
    )
    guard = exclusive_run(home_dir()) if args.execute else nullcontext()
    with Journal.in_home() as journal, guard:
        session = _session(ports, journal, args)
        resumed = _resume(session, args)
        targets = _targets(kind, config, session, args.min_drift, args.only)
        if args.execute:
            symbols = [t.symbol for t in targets]
            now_ms = session.clock.now_ms()
            require_alone(
                other_runs(journal, ports.account, ports.execution, symbols, now_ms), args.force
            )
            gate_before(session, symbols)
        proposal = propose(session, targets, kind, args.limits)
        report = _decide_and_send(session, proposal, ports, args)
        if args.json_out:
            print_json({
                "kind": kind, "exchange": ports.exchange, "paper": ports.paper,
                "dry_run": not args.execute, "legs": list(proposal.legs),
                "notes": list(proposal.notes), "resumed": [_report_json(r) for r in resumed],
                "report": _report_json(report),
            })  # fmt: skip
        problems = [p for r in (*resumed, report) if r is not None for p in r.problems]
        if report is not None:
            gate_after(session, proposal, problems, _next_step(kind, args))
        elif problems:
            raise PartialRunError("partial: " + "; ".join(problems))


def _next_step(kind: str, args: HedgeArgs) -> str:
    where = " --paper" if args.paper else ""
    if kind == "close":
        return f"run perphedge hedge close {args.portfolio}{where} --execute again"
    return f"run perphedge hedge rebalance {args.portfolio}{where} --execute to finish the hedge"


def _resume(session: LiveSession, args: HedgeArgs) -> list[RunReport]:
    if not args.execute:
        if session.journal.open_intents(session.exchange):
            err_console.print("note: an interrupted run is pending; --execute finishes it first")
        return []
    check_kill_switch(session.home)
    check_withdrawals(session.account)
    with _progress(session):
        resumed = resume_open_intents(session)
    for report in resumed:
        err_console.print(f"finished interrupted run {report.intent_id}", highlight=False)
        if not args.json_out:
            _print_report(report)
    return resumed


def _decide_and_send(
    session: LiveSession, proposal: Proposal, ports: Ports, args: HedgeArgs
) -> RunReport | None:
    if not args.json_out:
        _print_proposal(proposal, ports)
    if not proposal.has_orders:
        err_console.print("nothing to do: the exchange already matches the target")
        return None
    if not args.execute:
        err_console.print("dry run: nothing sent (add --execute to send these orders)")
        return None
    count = sum(len(leg.orders) for leg in proposal.legs)
    where = f"{ports.exchange} (paper)" if ports.paper else f"{ports.exchange} (REAL MONEY)"
    if not args.yes and not typer.confirm(f"Send {count} order(s) to {where}?", err=True):
        err_console.print("cancelled: nothing sent")
        raise typer.Exit(1)
    with _progress(session):
        report = execute(session, proposal, str(args.portfolio))
    if report is not None and not args.json_out:
        _print_report(report)
    return report


@contextmanager
def _progress(session: LiveSession) -> Iterator[None]:
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


PORTFOLIO = typer.Argument(help="Portfolio TOML file.")
EXCHANGE = typer.Option(None, "--exchange", help="Venue (default: the file's).")
PAPER = typer.Option(False, "--paper", help="Use the paper exchange (offline).")
LIVE_PRICES = typer.Option(False, "--live-prices", help="With --paper: the venue's live prices.")
BASE_URL = typer.Option(None, "--base-url", hidden=True)  # tests: a local fake exchange
JSON = typer.Option(False, "--json", help="Print JSON.")
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
        intents = journal.intents()[-limit:]
        orders = {i.intent_id: journal.orders(i.intent_id) for i in intents}
        funding = float(journal.funding_total())
        fills = len(journal.fills())
        path = journal.path
    if json_out:
        print_json({"journal": str(path), "funding_received": funding, "fills": fills,
                    "runs": [{"intent": i, "orders": orders[i.intent_id]} for i in intents]})  # fmt: skip
        return
    rows = [
        [i.intent_id, i.exchange, i.status, len(orders[i.intent_id]),
         sum(1 for o in orders[i.intent_id] if o.status == "filled")]
        for i in intents
    ]  # fmt: skip
    console.print(table(f"journal {path}", ["run", "exchange", "status", "orders", "filled"], rows))
    console.print(f"{fills} fill(s); funding received {fmt_num(funding)}", highlight=False)


def _check_ports(
    portfolio: Path | None, exchange: str | None, paper: bool, base_url: str | None
) -> Ports:
    if portfolio is not None:
        return open_ports(load_portfolio(portfolio), exchange, paper, base_url, "monitor")
    if exchange is None:
        raise InputError("--exchange", None, "name the venue when no portfolio file is given")
    name = venue(exchange).name
    if paper:
        return paper_ports(name, home_dir(), [])
    return live_ports(name, base_url)


def _in_file(symbol: str, symbols: list[str], portfolio: Path | None) -> str:
    if portfolio is None:
        return "-"
    return "yes" if symbol in symbols else "NO"


CHECK_HEADERS = ["symbol", "exchange", "journal", "in the file", "our open orders", "manual orders"]


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

    Exit 5 when they disagree (every --execute run checks this before and after sending).
    """
    ports = _check_ports(portfolio, exchange, paper, base_url)
    symbols: list[str] = []
    if portfolio is not None:
        config = load_portfolio(portfolio)
        kind = config.hedge.kind
        symbols = list(
            dict.fromkeys(perp_symbol(h.hedge_asset, kind) for h in config.portfolio.holdings)
        )
    with Journal.in_home() as journal:
        ref = AccountRef(journal_key(ports), ports.account_id)
        result = check_account(journal, ports.account, ports.execution, ref, symbols)
        if adopt_:
            adopt(journal, result, ports.clock.now_ms())
    if json_out:
        print_json({"account": result.account, "legs": list(result.legs),
                    "problems": list(result.problems), "notes": list(result.notes),
                    "adopted": adopt_})  # fmt: skip
    else:
        rows = [
            [leg.symbol, leg.exchange_contracts, leg.journal_contracts,
             _in_file(leg.symbol, symbols, portfolio), leg.pending_contracts, leg.manual_orders]
            for leg in result.legs
        ]  # fmt: skip
        console.print(table(f"check {result.account}", CHECK_HEADERS, rows))
        for line in (*result.notes, *result.problems):
            console.print(line, markup=False, highlight=False)
    if adopt_:
        err_console.print("adopted: the journal now takes these positions as the truth")
    elif not result.ok:
        require_agreement(result, "check")
    else:
        err_console.print("the account agrees with the journal")
