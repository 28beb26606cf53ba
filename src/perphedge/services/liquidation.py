"""Liquidation service: the margins, liquidation and bankruptcy price of one position.

The position, its maintenance-margin brackets (a bundled table or a flat rate) and the venue's
liquidation rules are checked and built here from what the caller gives; `margin.position_risk`
does the arithmetic.
"""

from __future__ import annotations

from dataclasses import dataclass

from perphedge.errors import InputError, require_finite, require_non_negative, require_positive
from perphedge.instruments import ContractKind, TierTable
from perphedge.margin import MarginMode, Position, PositionRisk, Rules, Side, position_risk
from perphedge.venues import tier_tables
from perphedge.venues.registry import venue


@dataclass(frozen=True)
class PositionQuery:
    """One position as the `liquidation` command's options give it (names are the options')."""

    side: Side
    kind: ContractKind
    entry: float
    leverage: float
    qty: float | None = None  # base coin (linear)
    contracts: float | None = None  # inverse
    contract_size: float | None = None  # USD per inverse contract
    mark: float | None = None  # default: entry
    wallet: float | None = None  # default: initial margin
    mode: MarginMode = MarginMode.ISOLATED
    other_mm: float = 0.0  # cross: the other positions' maintenance margin
    other_upnl: float = 0.0  # cross: the other positions' PnL
    rules: Rules | None = None  # default: the exchange's, else Binance's
    exchange: str | None = None
    mmr: float | None = None
    cum: float = 0.0
    tiers: str | None = None  # bundled table name, e.g. binance:BTCUSDT
    taker_fee: float = 0.0005


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


def _rules(rules: Rules | None, exchange: str | None) -> Rules:
    """`rules` as given, else the venue's (BingX/MEXC/WEEX: conservative, flagged approximate)."""
    if exchange is None:
        return rules or Rules.BINANCE
    venue_rules = venue(exchange).liquidation_rules
    if rules is not None and rules is not venue_rules:
        raise InputError(
            "--rules",
            rules.value,
            f"{exchange} uses {venue_rules.value} rules; drop --rules or --exchange",
        )
    return venue_rules


def _position(q: PositionQuery) -> Position:
    require_positive("--entry", q.entry)
    if q.kind is ContractKind.INVERSE:
        if q.contracts is None or q.contract_size is None:
            raise InputError(
                "--contracts",
                q.contracts,
                "an inverse position needs --contracts and --contract-size",
            )
        return Position(
            q.side,
            require_positive("--contracts", q.contracts),
            q.entry,
            q.kind,
            require_positive("--contract-size", q.contract_size),
        )
    if q.qty is None:
        raise InputError("--qty", q.qty, "a linear position needs --qty in base units, e.g. 0.5")
    return Position(q.side, require_positive("--qty", q.qty), q.entry, q.kind)


def _check(q: PositionQuery) -> None:
    if q.mode is MarginMode.ISOLATED and (q.other_mm or q.other_upnl):
        raise InputError(
            "--other-mm", q.other_mm, "--other-mm/--other-upnl need --margin-mode cross"
        )
    require_non_negative("--other-mm", q.other_mm)
    require_finite("--other-upnl", q.other_upnl)
    require_non_negative("--taker-fee", q.taker_fee)
    for name, given in (
        ("--qty", q.qty),
        ("--contracts", q.contracts),
        ("--contract-size", q.contract_size),
    ):
        if given is not None:  # named even when the contract kind does not use it
            require_positive(name, given)


def position_liquidation(q: PositionQuery) -> PositionRisk:
    """Margins, liquidation and bankruptcy price and distance to liquidation of `q`."""
    _check(q)
    pos = _position(q)
    return position_risk(
        pos,
        leverage=require_positive("--leverage", q.leverage),
        mark=None if q.mark is None else require_positive("--mark", q.mark),
        wallet=None if q.wallet is None else require_non_negative("--wallet", q.wallet),
        tiers=_tiers(q.tiers, q.mmr, q.cum),
        rules=_rules(q.rules, q.exchange),
        mode=q.mode,
        other_mm=q.other_mm,
        other_upnl=q.other_upnl,
        taker_fee=q.taker_fee,
        settle_unit="coin" if q.kind is ContractKind.INVERSE else "quote",
    )
