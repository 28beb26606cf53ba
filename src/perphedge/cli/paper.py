"""`perphedge paper show|advance|reset`: the offline paper account used by `--paper`.

`--coin-margined` selects the coin-margined (inverse) account, which a `hedge` or `monitor`
command with a coin-margined portfolio creates holding that portfolio's coins.
"""

from __future__ import annotations

from datetime import UTC, datetime

import typer

from perphedge.errors import InputError
from perphedge.exchanges.paper_state import paper_path
from perphedge.live.session import Ports, paper_account, paper_ports
from perphedge.report.render import console, fmt_num, key_value_table, print_json, table
from perphedge.store.paths import home_dir
from perphedge.venues.registry import venue

paper_app = typer.Typer(help="The offline paper account used by --paper.", no_args_is_help=True)
DEFAULT_SYMBOLS = ["BTC/USDT:USDT", "ETH/USDT:USDT"]
COIN_MARGINED_SYMBOLS = ["BTC/USD:BTC", "ETH/USD:ETH"]
COIN_MARGINED = typer.Option(
    False, "--coin-margined", help="The coin-margined (inverse) paper account."
)


def _symbols(coin_margined: bool) -> list[str]:
    return COIN_MARGINED_SYMBOLS if coin_margined else DEFAULT_SYMBOLS


def _ports(exchange: str, coin_margined: bool) -> Ports:
    name = venue(exchange).name
    if not paper_path(home_dir(), paper_account(name, coin_margined)).exists():
        kind = 'a contract = "inverse" portfolio' if coin_margined else "a portfolio"
        raise InputError(
            "--coin-margined" if coin_margined else "--exchange",
            name,
            f"no paper account yet: run `perphedge hedge open FILE --paper` on {kind} first",
        )
    return paper_ports(name, home_dir(), _symbols(coin_margined), coin_margined)


def _time(ts_ms: int) -> str:
    return datetime.fromtimestamp(ts_ms / 1000, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


@paper_app.command("show")
def show(
    exchange: str = typer.Option("binance", "--exchange", help="Venue simulated."),
    json_out: bool = typer.Option(False, "--json", help="Print JSON."),
    coin_margined: bool = COIN_MARGINED,
) -> None:
    """Balances, positions, open orders and funding of the paper account."""
    ports = _ports(exchange, coin_margined)
    paper = ports.account
    symbols = sorted({*_symbols(coin_margined), *(o.symbol for o in paper.open_orders())})
    positions = paper.positions(symbols)
    funding = [p for s in symbols for p in paper.funding_received(s, 0)]
    received = sum(float(p.amount) for p in funding)
    by_currency: dict[str, float] = {}
    for pay in funding:
        by_currency[pay.currency] = by_currency.get(pay.currency, 0.0) + float(pay.amount)
    now = _time(ports.clock.now_ms())
    data = {
        "simulated_now": now,
        "balances": list(paper.balances()),
        "positions": list(positions),
        "open_orders": list(paper.open_orders()),
        "funding_received": received,
        "funding_received_by_currency": by_currency,
        "funding_payments": funding,
    }
    if json_out:
        print_json(data)
        return
    console.print(key_value_table(f"paper account on {ports.exchange}", [
        ("simulated now", now),
        *((f"{b.currency} wallet", fmt_num(b.total, _digits(b.currency))) for b in paper.balances()),
        *((f"funding received {c}", fmt_num(v, _digits(c))) for c, v in by_currency.items()),
    ]))  # fmt: skip
    console.print(table("positions", ["symbol", "contracts", "entry", "mark", "liquidation"], [
        [p.symbol, p.contracts, fmt_num(p.entry_price), fmt_num(p.mark_price),
         fmt_num(p.liquidation_price)] for p in positions]))  # fmt: skip


def _digits(currency: str) -> int:
    return 2 if currency in ("USDT", "USDC", "USD") else 8


@paper_app.command("advance")
def advance(
    hours: float = typer.Option(..., "--hours", help="Move simulated time forward this much."),
    exchange: str = typer.Option("binance", "--exchange", help="Venue simulated."),
    coin_margined: bool = COIN_MARGINED,
) -> None:
    """Jump the simulated clock; funding settles at the settlement times passed."""
    ports = _ports(exchange, coin_margined)
    clock = ports.clock
    assert hasattr(clock, "advance")
    clock.advance(hours)
    ports.account.balances()  # bring the account up to the new time
    console.print(f"simulated now: {_time(clock.now_ms())}", highlight=False)


@paper_app.command("reset")
def reset(
    exchange: str = typer.Option("binance", "--exchange", help="Venue simulated."),
    yes: bool = typer.Option(False, "--yes", help="Do not ask for confirmation."),
    coin_margined: bool = COIN_MARGINED,
) -> None:
    """Delete the paper account and its clock (the journal keeps its history)."""
    path = paper_path(home_dir(), paper_account(venue(exchange).name, coin_margined))
    if not yes and not typer.confirm(f"Delete the paper account {path}?", err=True):
        raise typer.Exit(1)
    for file in (path, path.with_suffix(".clock.json"), path.with_suffix(".lock")):
        file.unlink(missing_ok=True)
    console.print(f"paper account {path} deleted", highlight=False)


def register(app: typer.Typer) -> None:
    app.add_typer(paper_app, name="paper")
