"""`perphedge paper show|advance|reset`: the offline paper account used by `--paper`."""

from __future__ import annotations

from datetime import UTC, datetime

import typer

from perphedge.errors import InputError
from perphedge.exchanges.paper_state import paper_path
from perphedge.exchanges.venues import venue
from perphedge.live.session import Ports, paper_ports
from perphedge.report.render import console, fmt_num, key_value_table, print_json, table
from perphedge.store.paths import home_dir

paper_app = typer.Typer(help="The offline paper account used by --paper.", no_args_is_help=True)
DEFAULT_SYMBOLS = ["BTC/USDT:USDT", "ETH/USDT:USDT"]


def _ports(exchange: str) -> Ports:
    name = venue(exchange).name
    if not paper_path(home_dir(), name).exists():
        raise InputError(
            "--exchange", name, "no paper account yet: run a command with --paper first"
        )
    return paper_ports(name, home_dir(), DEFAULT_SYMBOLS)


def _time(ts_ms: int) -> str:
    return datetime.fromtimestamp(ts_ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


@paper_app.command("show")
def show(
    exchange: str = typer.Option("binance", "--exchange", help="Venue simulated."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Balances, positions, open orders and funding of the paper account."""
    ports = _ports(exchange)
    paper = ports.account
    symbols = sorted({*DEFAULT_SYMBOLS, *(o.symbol for o in paper.open_orders())})
    positions = paper.positions(symbols)
    funding = [p for s in symbols for p in paper.funding_received(s, 0)]
    received = sum(float(p.amount) for p in funding)
    now = _time(ports.clock.now_ms())
    data = {
        "simulated_now": now,
        "balances": list(paper.balances()),
        "positions": list(positions),
        "open_orders": list(paper.open_orders()),
        "funding_received": received,
        "funding_payments": funding,
    }
    if json_out:
        print_json(data)
        return
    console.print(key_value_table(f"paper account on {ports.exchange}", [
        ("simulated now", now),
        *((f"{b.currency} wallet", fmt_num(b.total)) for b in paper.balances()),
        ("funding received", fmt_num(received)),
    ]))  # fmt: skip
    console.print(table("positions", ["symbol", "contracts", "entry", "mark", "liquidation"], [
        [p.symbol, p.contracts, fmt_num(p.entry_price), fmt_num(p.mark_price),
         fmt_num(p.liquidation_price)] for p in positions]))  # fmt: skip


@paper_app.command("advance")
def advance(
    hours: float = typer.Option(..., "--hours", help="Move simulated time forward this much."),
    exchange: str = typer.Option("binance", "--exchange", help="Venue simulated."),
) -> None:
    """Jump the simulated clock; funding settles at the settlement times passed."""
    ports = _ports(exchange)
    clock = ports.clock
    assert hasattr(clock, "advance")
    clock.advance(hours)
    ports.account.balances()  # bring the account up to the new time
    console.print(f"simulated now: {_time(clock.now_ms())}", highlight=False)


@paper_app.command("reset")
def reset(
    exchange: str = typer.Option("binance", "--exchange", help="Venue simulated."),
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
) -> None:
    """Delete the paper account and its clock (the journal keeps its history)."""
    path = paper_path(home_dir(), venue(exchange).name)
    if not yes and not typer.confirm(f"Delete the paper account {path}?", err=True):
        raise typer.Exit(1)
    for file in (path, path.with_suffix(".clock.json"), path.with_suffix(".lock")):
        file.unlink(missing_ok=True)
    console.print(f"paper account {path} deleted", highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(paper_app, name="paper")
