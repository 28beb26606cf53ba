"""`perphedge hedge keep PORTFOLIO`: the loop that keeps the hedge alive (dry run by default).

Each step reconciles, asks the keeper ([keeper] section of the file) what to do, and with
`--execute` sends the re-sizing orders and margin moves, journaled (`perphedge.live.keep`).
Alerts go to the terminal, PERPHEDGE_HOME/logs/monitor.log and the webhook; an unreachable
exchange never ends the loop.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from perphedge.cli import wiring
from perphedge.cli.accounts import BASE_URL, EXCHANGE, PORTFOLIO, account_name, open_ports
from perphedge.config import load_portfolio
from perphedge.errors import InputError, require_positive
from perphedge.live.execute import LiveSession
from perphedge.live.keep import KeepStep, keep_loop, keep_step
from perphedge.live.outage import DEFAULT_ALERT_AFTER, Outage
from perphedge.live.watch import AlertSinks
from perphedge.report.keep_view import keep_step_lines
from perphedge.report.render import console, err_console
from perphedge.services.keep import executed_step, keep_plan, margin_mover
from perphedge.store.journal import Journal
from perphedge.store.paths import home_dir

_PAPER = typer.Option(False, "--paper", help="Keep the paper account's hedge (offline).")
_ONCE = typer.Option(False, "--once", help="One step, then exit.")
_INTERVAL = typer.Option(300.0, "--interval", help="Seconds between steps.")
_EXECUTE = typer.Option(False, "--execute", help="Send orders and margin moves (asks once).")
_YES = typer.Option(False, "--yes", help="Do not ask for confirmation.")
_WEBHOOK = typer.Option(
    None, "--webhook", envvar="PERPHEDGE_WEBHOOK_URL", help="POST alerts as JSON to this URL."
)


def _show(step: KeepStep) -> None:
    for line in keep_step_lines(step):
        console.print(line, markup=False, highlight=False)


def keep_command(
    portfolio: Annotated[Path, PORTFOLIO],
    exchange: str | None = EXCHANGE,
    paper: bool = _PAPER,
    once: bool = _ONCE,
    interval: float = _INTERVAL,
    do_execute: bool = _EXECUTE,
    yes: bool = _YES,
    webhook: str | None = _WEBHOOK,
    base_url: str | None = BASE_URL,
) -> None:
    """Keep the hedge alive: re-margin, re-size, re-open and alert, step after step."""
    require_positive("--interval", interval)
    if webhook and not webhook.startswith(("http://", "https://")):
        raise InputError("--webhook", "(not shown)", "give an http:// or https:// URL")
    config = load_portfolio(portfolio)
    ports = open_ports(config, exchange, paper, base_url)
    control = margin_mover(ports)
    where = f"{ports.exchange} (paper)" if paper else f"{ports.exchange} (REAL MONEY)"
    if do_execute and not yes and not typer.confirm(f"Keep the hedge on {where}?", err=True):
        err_console.print("cancelled: nothing sent")
        raise typer.Exit(1)
    home = home_dir()
    sinks = AlertSinks(home, config.name, account_name(ports), webhook, _say)
    with Journal.in_home() as journal:
        session = LiveSession(
            ports.exchange, ports.account, ports.execution, ports.market, ports.clock, journal,
            home, account_id=ports.account_id,
        )  # fmt: skip
        adapters = wiring.current()
        setup = keep_plan(config, str(portfolio), ports.market, adapters.history(), ports.clock)
        for note in setup.notes:
            _say(f"note: {note}")
        plan = setup.plan

        def step() -> KeepStep:
            if not do_execute:
                return keep_step(session, plan, control, False)
            return executed_step(session, plan, control)

        outage = Outage(account_name(ports), alert_after=1 if once else DEFAULT_ALERT_AFTER)
        wait, every = adapters.sleep, None if once else interval
        keep_loop(step, _show, sinks, ports.clock.now_ms, wait, every, outage)
    if not do_execute:
        err_console.print("dry run: nothing sent (add --execute to act on these decisions)")


def _say(line: str) -> None:
    err_console.print(line, markup=False, highlight=False)
