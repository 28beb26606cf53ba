"""`perphedge liquidation`: margin, liquidation and bankruptcy price of one position."""

from __future__ import annotations

import typer

from perphedge.cli.options import choice
from perphedge.errors import InputError, require_finite, require_non_negative, require_positive
from perphedge.instruments import ContractKind, TierTable
from perphedge.margin import MarginMode, Position, Rules, Side, position_risk
from perphedge.report.liquidation_view import liquidation_json, liquidation_table
from perphedge.report.render import console, print_json
from perphedge.venues import tier_tables
from perphedge.venues.registry import venue


def _tiers(tiers_name: str | None, mmr: float | None, cum: float) -> TierTable:
    if tiers_name and mmr is not None:
        raise InputError("--tiers/--mmr", tiers_name, "give either --tiers or --mmr, not both")
    if tiers_name:
        return tier_tables.bundled(tiers_name)
    if mmr is None:
        raise InputError(
            "--mmr", None, "give --mmr (with --cum) or --tiers such as binance:BTCUSDT"
        )
    require_finite("--mmr", mmr)
    if not 0 < mmr < 1:
        raise InputError("--mmr", mmr, "a maintenance-margin rate lies in (0, 1), e.g. 0.004")
    return TierTable.flat(mmr, require_finite("--cum", cum), max_leverage=1e9)


def _rules(rules: str | None, exchange: str | None) -> Rules:
    """--rules as given, else the venue's (BingX/MEXC/WEEX: conservative, flagged approximate)."""
    if exchange is None:
        return choice(Rules, "--rules", rules or "binance")
    venue_rules = venue(exchange).liquidation_rules
    if rules is not None and choice(Rules, "--rules", rules) is not venue_rules:
        raise InputError(
            "--rules",
            rules,
            f"{exchange} uses {venue_rules.value} rules; drop --rules or --exchange",
        )
    return venue_rules


def _position(
    side: Side,
    kind: ContractKind,
    qty: float | None,
    contracts: float | None,
    contract_size: float | None,
    entry: float,
) -> Position:
    require_positive("--entry", entry)
    if kind is ContractKind.INVERSE:
        if contracts is None or contract_size is None:
            raise InputError(
                "--contracts",
                contracts,
                "an inverse position needs --contracts and --contract-size",
            )
        return Position(
            side,
            require_positive("--contracts", contracts),
            entry,
            kind,
            require_positive("--contract-size", contract_size),
        )
    if qty is None:
        raise InputError("--qty", qty, "a linear position needs --qty in base units, e.g. 0.5")
    return Position(side, require_positive("--qty", qty), entry, kind)


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
    kind = choice(ContractKind, "--contract", contract)
    mode = choice(MarginMode, "--margin-mode", margin_mode)
    if mode is MarginMode.ISOLATED and (other_mm or other_upnl):
        raise InputError("--other-mm", other_mm, "--other-mm/--other-upnl need --margin-mode cross")
    require_non_negative("--other-mm", other_mm)
    require_finite("--other-upnl", other_upnl)
    require_non_negative("--taker-fee", taker_fee)
    for name, given in (
        ("--qty", qty),
        ("--contracts", contracts),
        ("--contract-size", contract_size),
    ):
        if given is not None:  # named even when the contract kind does not use it
            require_positive(name, given)
    pos = _position(Side.parse(side), kind, qty, contracts, contract_size, entry)
    risk = position_risk(
        pos,
        leverage=require_positive("--leverage", leverage),
        mark=None if mark is None else require_positive("--mark", mark),
        wallet=None if wallet is None else require_non_negative("--wallet", wallet),
        tiers=_tiers(tiers, mmr, cum),
        rules=_rules(rules, exchange),
        mode=mode,
        other_mm=other_mm,
        other_upnl=other_upnl,
        taker_fee=taker_fee,
        settle_unit="coin" if kind is ContractKind.INVERSE else "quote",
    )
    if as_json:
        print_json(liquidation_json(risk))
    else:
        console.print(liquidation_table(risk))


def register(app: typer.Typer) -> None:
    app.command("liquidation")(liquidation)
