"""`perphedge liquidation`: margin, liquidation and bankruptcy price of one position."""

from __future__ import annotations

import typer

from perphedge.cli.options import choice
from perphedge.instruments import ContractKind
from perphedge.margin import MarginMode, Rules, Side
from perphedge.report.liquidation_view import liquidation_json, liquidation_table
from perphedge.report.render import console, print_json
from perphedge.services.liquidation import PositionQuery, position_liquidation


def liquidation(
    side: str = typer.Option(..., "--side", help="long or short"),
    entry: float = typer.Option(..., "--entry", help="Average entry price."),
    leverage: float = typer.Option(..., "--leverage", help="Leverage; sets initial margin."),
    qty: float | None = typer.Option(None, "--qty", help="Size in base coin (linear)."),
    contracts: float | None = typer.Option(None, "--contracts", help="Contracts (inverse)."),
    contract_size: float | None = typer.Option(
        None, "--contract-size", help="USD per inverse contract (Binance BTCUSD_PERP: 100)."
    ),
    contract: str = typer.Option("linear", "--contract", help="linear or inverse"),
    mark: float | None = typer.Option(None, "--mark", help="Mark price (default: entry)."),
    wallet: float | None = typer.Option(
        None, "--wallet", help="Wallet balance in settle currency (default: initial margin)."
    ),
    margin_mode: str = typer.Option("isolated", "--margin-mode", help="isolated or cross"),
    other_mm: float = typer.Option(0.0, "--other-mm", help="Cross: other positions' MM."),
    other_upnl: float = typer.Option(0.0, "--other-upnl", help="Cross: other positions' PnL."),
    rules: str | None = typer.Option(
        None, "--rules", help="binance, bybit, okx or conservative (default: binance)"
    ),
    exchange: str | None = typer.Option(
        None, "--exchange", help="Use this venue's rules (perphedge exchanges lists them)."
    ),
    mmr: float | None = typer.Option(None, "--mmr", help="Maintenance-margin rate, e.g. 0.004."),
    cum: float = typer.Option(0.0, "--cum", help="Maintenance amount of that rate."),
    tiers: str | None = typer.Option(None, "--tiers", help="Bundled table, e.g. binance:BTCUSDT"),
    taker_fee: float = typer.Option(
        0.0005, "--taker-fee", help="Taker fee rate (OKX/Bybit liquidation and closing fee)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Liquidation and bankruptcy price, margins and distance to liquidation of one position."""
    risk = position_liquidation(
        PositionQuery(
            side=Side.parse(side),
            kind=choice(ContractKind, "--contract", contract),
            entry=entry,
            leverage=leverage,
            qty=qty,
            contracts=contracts,
            contract_size=contract_size,
            mark=mark,
            wallet=wallet,
            mode=choice(MarginMode, "--margin-mode", margin_mode),
            other_mm=other_mm,
            other_upnl=other_upnl,
            rules=None if rules is None else choice(Rules, "--rules", rules),
            exchange=exchange,
            mmr=mmr,
            cum=cum,
            tiers=tiers,
            taker_fee=taker_fee,
        )
    )
    if as_json:
        print_json(liquidation_json(risk))
    else:
        console.print(liquidation_table(risk))


def register(app: typer.Typer) -> None:
    app.command("liquidation")(liquidation)
