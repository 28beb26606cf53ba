"""`perphedge exchanges`: what each venue can do, from ccxt's flags checked by our own tests."""

from __future__ import annotations

import typer

from perphedge.exchanges.capabilities import capability_table, ccxt_version
from perphedge.report.data_view import capability_rows
from perphedge.report.render import console, print_json, table
from perphedge.venues.registry import venue

LEGEND = (
    "yes = ccxt supports it and a perphedge test checks it on a recorded response of the venue; "
    "unverified = ccxt claims it, no recorded proof; no = not offered through ccxt, or a "
    "recorded response shows ccxt does not deliver it. "
    "Liquidation: 'approximate' venues publish no formula; perphedge applies the conservative "
    "rule (Binance algebra with MMR + taker fee) and flags every result."
)


_NAMES = typer.Argument(None, help="Venues to show (default: all).")


def exchanges(
    names: list[str] | None = _NAMES,
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Capability table per venue: funding history, tiers, coin-margined, orders, intervals …"""
    rows = capability_table()
    if names:
        wanted = [venue(n).name for n in names]
        rows = [r for r in rows if r.venue in wanted]
    if as_json:
        print_json({"ccxt_version": ccxt_version(), "legend": LEGEND, "venues": rows})
        return
    out = table(
        f"Venue capabilities (ccxt {ccxt_version()})",
        ["capability", *(r.venue for r in rows)],
        capability_rows(rows),
    )
    for column in out.columns:  # fold long cells on narrow terminals instead of cutting them
        column.overflow = "fold"
    console.print(out)
    for r in rows:
        if r.notes:
            console.print(f"{r.venue}: {r.notes}", highlight=False)
    console.print(LEGEND, highlight=False)


def register(app: typer.Typer) -> None:
    app.command("exchanges")(exchanges)
