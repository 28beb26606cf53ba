"""`perphedge paper show|advance|reset`: the offline paper account used by `--paper`.

`--coin-margined` selects the coin-margined (inverse) account, which a `hedge` or `monitor`
command with a coin-margined portfolio creates holding that portfolio's coins.
"""

from __future__ import annotations

from pathlib import Path

import typer

from perphedge.cli import wiring
from perphedge.config import load_portfolio
from perphedge.dates import parse_day_ms
from perphedge.errors import InputError
from perphedge.exchanges.paper_state import paper_path
from perphedge.live.session import Ports, paper_account, paper_ports
from perphedge.report.paper_view import paper_json, paper_renderables, reset_lines, sim_time
from perphedge.report.render import console, print_json
from perphedge.services.paper import (
    PaperReset,
    advance_paper,
    default_symbols,
    delete_paper,
    paper_parts,
    paper_view,
    plan_reset,
    reopen_paper,
)
from perphedge.services.targets import hedge_targets
from perphedge.store.paths import home_dir
from perphedge.venues.registry import venue

paper_app = typer.Typer(help="The offline paper account used by --paper.", no_args_is_help=True)
PORTFOLIO = typer.Argument(None, help="Portfolio TOML file (optional).")
COIN_MARGINED = typer.Option(
    False, "--coin-margined", help="The coin-margined (inverse) paper account."
)


def _ports(exchange: str, coin_margined: bool) -> Ports:
    name = venue(exchange).name
    if not paper_path(home_dir(), paper_account(name, coin_margined)).exists():
        kind = 'a contract = "inverse" portfolio' if coin_margined else "a portfolio"
        raise InputError(
            "--coin-margined" if coin_margined else "--exchange",
            name,
            f"no paper account yet: run `perphedge hedge open FILE --paper` on {kind} first",
        )
    return paper_ports(name, home_dir(), default_symbols(coin_margined), coin_margined)


@paper_app.command("show")
def show(
    portfolio: Path | None = PORTFOLIO,
    exchange: str = typer.Option("binance", "--exchange", help="Venue simulated."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
    coin_margined: bool = COIN_MARGINED,
) -> None:
    """Balances, every position with its funding, and open orders of the paper account.

    With PORTFOLIO, positions its hedge does not plan are flagged "not in the file"."""
    ports = _ports(exchange, coin_margined)
    paper, _, clock = paper_parts(ports)
    planned = None
    if portfolio is not None:
        targets = hedge_targets(load_portfolio(portfolio), ports.market).targets
        planned = frozenset(t.symbol for t in targets)
    view = paper_view(paper, clock, planned)
    if json_out:
        print_json(paper_json(view))
        return
    for item in paper_renderables(view, ports.exchange):
        console.print(item, highlight=False)


@paper_app.command("advance")
def advance(
    hours: float = typer.Option(..., "--hours", help="Move simulated time forward this much."),
    exchange: str = typer.Option("binance", "--exchange", help="Venue simulated."),
    coin_margined: bool = COIN_MARGINED,
) -> None:
    """Jump the simulated clock; funding settles at the settlement times passed.

    Past the stored prices nothing changes (run data sync, or paper reset --at an earlier day)."""
    paper, market, clock = paper_parts(_ports(exchange, coin_margined))
    now_ms = advance_paper(paper, market, clock, hours)
    console.print(f"simulated now: {sim_time(now_ms)}", highlight=False)


@paper_app.command("reset")
def reset(
    portfolio: Path | None = PORTFOLIO,
    exchange: str = typer.Option("binance", "--exchange", help="Venue simulated."),
    spot: float = typer.Option(
        0.0,
        "--spot",
        help="USDT in the new account's spot wallet, which a cross account's keeper transfers "
        "to the futures wallet.",
    ),
    deposit: float | None = typer.Option(
        None,
        "--deposit",
        help="USDT in the new account (default with PORTFOLIO: its plan's "
        "initial margin plus a reserve of the same size).",
    ),
    at: str | None = typer.Option(
        None,
        "--at",
        help="Start the replay at this day, YYYY-MM-DD (default: the plan's as-of time, "
        "or where the stored marks end).",
    ),
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
    coin_margined: bool = COIN_MARGINED,
) -> None:
    """Delete the paper account and its clock (the journal keeps its history); with PORTFOLIO,
    --deposit or --at, open a new one funded and started as asked."""
    start_ms = None if at is None else parse_day_ms("--at", at)
    config = None if portfolio is None else load_portfolio(portfolio)
    adapters = wiring.current()
    request = PaperReset(venue(exchange).name, coin_margined, start_ms, spot)
    fresh = plan_reset(config, request, deposit, adapters.history(), adapters.clock)
    path = paper_path(home_dir(), paper_account(request.exchange, coin_margined))
    if not yes and not typer.confirm(f"Delete the paper account {path}?", err=True):
        raise typer.Exit(1)
    delete_paper(home_dir(), request)
    console.print(f"paper account {path} deleted", highlight=False)
    if fresh is None:
        return
    opened = reopen_paper(home_dir(), request, fresh)
    for line in reset_lines(opened):
        console.print(line, markup=False, highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(paper_app, name="paper")
