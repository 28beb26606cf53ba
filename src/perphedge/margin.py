"""Margin, liquidation and bankruptcy prices of one-way perpetual positions.

Notation follows the exchange FAQs: s = +1 long / -1 short, q = size (base coin for linear,
contracts for inverse), CS = USD per inverse contract, Q = q * CS, EP = entry, P = mark,
WB = wallet balance (isolated: the position's margin; cross: the cross wallet),
TMM1 / UPNL1 = maintenance margin / unrealised PnL of the account's *other* positions.

Linear (quote units):                     Inverse (coin units):
  notional  N = q * P                       N = Q / P
  PnL       s * q * (P - EP)                s * Q * (1/EP - 1/P)
  MM        N * MMR - cum   (tier by N)     N * MMR - cum   (coin brackets)

Binance (USDⓈ-M and COIN-M liquidation FAQs; isolated => TMM1 = UPNL1 = 0):
  linear   LP = (WB - TMM1 + UPNL1 + cum - s*q*EP) / (q*MMR - s*q)
  inverse  LP = Q*(MMR + s) / (WB - TMM1 + UPNL1 + cum + s*Q/EP)
  with MMR/cum of the bracket containing the notional *at LP* (each bracket is tried).
OKX isolated: margin ratio = (margin + UPL) / (MM + liquidation fee), fee = value * taker rate,
  which is the Binance algebra with MMR + taker and no cum. Without cum, MM jumps up where a
  bracket starts, so the liquidation can sit exactly on a bracket edge (checked explicitly).
Conservative (venues that publish no formula: BingX, MEXC, WEEX): the Binance algebra with the
  venue's MMR plus the taker fee as a buffer, MM = N * (MMR + taker) - cum, always flagged
  approximate. MM stays continuous across brackets and is at least Binance's at every notional,
  so the estimate never lies further from entry than the published-rule one. (Dropping cum as
  well would make MM jump at bracket edges, where a per-bracket solve can miss the crossing.)
Bybit isolated ("Liquidation Price (USDT Contract)", inverse old form): MM fixed at entry value,
  linear LP = EP - s*(WB - MM0)/q; inverse LP = Q / (Q/EP + s*(WB - MM0)).
Bankruptcy price: where margin balance (less an optional closing fee) reaches zero.
A computed price <= 0 (or a denominator <= 0) means no liquidation on that side: None.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import IntEnum, StrEnum

from perphedge.errors import InputError, require_finite, require_non_negative, require_positive
from perphedge.instruments import ContractKind, MarginTier, TierTable

_EPS = 1e-12  # relative size under which a denominator counts as zero (float noise)


class Side(IntEnum):
    LONG = 1
    SHORT = -1

    @classmethod
    def parse(cls, text: str) -> Side:
        try:
            return {"long": cls.LONG, "buy": cls.LONG, "short": cls.SHORT, "sell": cls.SHORT}[
                text.strip().lower()
            ]
        except KeyError:
            raise InputError("side", text, "use 'long' or 'short'") from None


class MarginMode(StrEnum):
    ISOLATED = "isolated"
    CROSS = "cross"


class Rules(StrEnum):
    """Whose liquidation formula to apply."""

    BINANCE = "binance"
    BYBIT = "bybit"
    OKX = "okx"
    CONSERVATIVE = "conservative"  # no published formula: Binance + taker fee, approximate


@dataclass(frozen=True)
class Position:
    """A one-way perpetual position.

    `size`: base coin for linear, contracts for inverse. `contract_size`: USD per contract
    (inverse only; linear sizes are already in base coin).
    """

    side: Side
    size: float
    entry_price: float
    kind: ContractKind = ContractKind.LINEAR
    contract_size: float = 1.0

    def __post_init__(self) -> None:
        require_positive("size", self.size)
        require_positive("entry_price", self.entry_price)
        require_positive("contract_size", self.contract_size)

    @property
    def sign(self) -> int:
        return int(self.side)

    @property
    def is_inverse(self) -> bool:
        return self.kind is ContractKind.INVERSE

    @property
    def face_usd(self) -> float:
        """Q = contracts * contract size (inverse); for linear, the entry notional."""
        return self.size * self.contract_size if self.is_inverse else self.size * self.entry_price


# The formulas on plain floats. Each is written once, here: the Position-based functions below,
# the backtest's numba kernel (which compiles these very functions, inlined) and its plain-Python
# reference all call them. No validation inside (callers validate), so numba can compile them.


def notional_of(size: float, price: float, contract_size: float, inverse: bool) -> float:
    """Value of `size` at `price` in the settle currency: linear q * P (quote), inverse
    q * CS / P (coin; `size` in contracts of `contract_size` USD)."""
    return size * contract_size / price if inverse else size * price


def usd_notional_of(size: float, price: float, contract_size: float, inverse: bool) -> float:
    """Value of `size` contracts in USD: size * CS (inverse: CS is USD per contract) or
    size * CS * P (linear: CS in base coin)."""
    usd = size * contract_size
    return usd if inverse else usd * price


def pnl_of(
    signed_size: float, entry: float, price: float, contract_size: float, inverse: bool
) -> float:
    """PnL of `signed_size` (+long/-short) from `entry` to `price`, settle currency: linear
    s*q * (P - EP), inverse s*q * CS * (1/EP - 1/P)."""
    if inverse:
        return signed_size * contract_size * (1.0 / entry - 1.0 / price)
    return signed_size * (price - entry)


def fee_of(notional_settle: float, fee_rate: float) -> float:
    """Fee charged on `notional_settle` (trade or liquidation): notional * rate."""
    return notional_settle * fee_rate


def maintenance_of(notional_settle: float, mmr: float, cum: float) -> float:
    """Maintenance margin in a bracket: N * MMR - cum (cum: the bracket's maintenance amount)."""
    return notional_settle * mmr - cum


def tier_maintenance(tiers: TierTable, notional_settle: float) -> float:
    """N * MMR - cum of the bracket of `tiers` containing N (by notional, never by margin)."""
    tier = tiers.tier_for(notional_settle)
    return maintenance_of(notional_settle, tier.mmr, tier.cum)


def notional(pos: Position, price: float) -> float:
    """Position value at `price` in the settle currency (quote for linear, coin for inverse)."""
    require_positive("price", price)
    return notional_of(pos.size, price, pos.contract_size, pos.is_inverse)


def unrealized_pnl(pos: Position, mark: float) -> float:
    """PnL at `mark` in the settle currency."""
    require_positive("mark", mark)
    size = pos.sign * pos.size
    return pnl_of(size, pos.entry_price, mark, pos.contract_size, pos.is_inverse)


def initial_margin(pos: Position, leverage: float, price: float | None = None) -> float:
    """Notional at `price` (default: entry) divided by leverage."""
    require_positive("leverage", leverage)
    return notional(pos, price or pos.entry_price) / leverage


def check_leverage(pos: Position, leverage: float, tiers: TierTable) -> None:
    """Raise InputError when `leverage` exceeds the bracket maximum at the entry notional."""
    require_positive("leverage", leverage)
    cap = tiers.max_leverage_for(notional(pos, pos.entry_price))
    if leverage > cap:
        raise InputError(
            "leverage", leverage, f"at most {cap:g}x is allowed for this notional; lower it"
        )


def maintenance_margin(
    pos: Position,
    mark: float,
    tiers: TierTable,
    rules: Rules = Rules.BINANCE,
    taker_fee: float = 0.0,
) -> float:
    """Tiered maintenance margin at `mark` as `rules` define it (see `maintenance_terms`);
    Binance: N * MMR - cum of the bracket containing N."""
    n = notional(pos, mark)
    rate, deduction = maintenance_terms(rules, tiers.tier_for(n), taker_fee)
    return maintenance_of(n, rate, deduction)


def margin_balance(pos: Position, wallet: float, mark: float, other_upnl: float = 0.0) -> float:
    """Wallet balance plus unrealised PnL (of this and, in cross, the other positions)."""
    return wallet + other_upnl + unrealized_pnl(pos, mark)


def margin_ratio(
    pos: Position,
    wallet: float,
    mark: float,
    tiers: TierTable,
    other_mm: float = 0.0,
    other_upnl: float = 0.0,
    rules: Rules = Rules.BINANCE,
    taker_fee: float = 0.0,
) -> float:
    """Margin ratio = maintenance margin (as `rules` define it) / margin balance; liquidation
    at >= 1. Infinite when the margin balance is zero or negative.
    """
    balance = margin_balance(pos, wallet, mark, other_upnl)
    mm = maintenance_margin(pos, mark, tiers, rules, taker_fee) + other_mm
    return math.inf if balance <= 0 else mm / balance


def _solve(pos: Position, equity: float, mmr: float, cum: float) -> float | None:
    """Price where equity + PnL(P) = N(P) * mmr - cum, or None if there is none above zero."""
    s = pos.sign
    if pos.is_inverse:
        q_usd = pos.face_usd
        denom = equity + cum + s * q_usd / pos.entry_price
        if abs(denom) <= _EPS * (abs(equity) + q_usd / pos.entry_price):
            return None  # fully collateralised in coin (e.g. a 1x coin-margined short)
        price = q_usd * (mmr + s) / denom
    else:
        denom = pos.size * mmr - s * pos.size
        if denom == 0:
            return None
        price = (equity + cum - s * pos.size * pos.entry_price) / denom
    return price if price > 0 and math.isfinite(price) else None


@dataclass(frozen=True)
class Liquidation:
    """Result of a liquidation-price computation.

    `price` is None when no liquidation exists on that side. `tier` is the bracket used.
    `approximate` flags formulas that are not the venue's published one.
    """

    price: float | None
    tier: MarginTier
    rules: Rules
    approximate: bool = False


def liquidation(
    pos: Position,
    wallet: float,
    tiers: TierTable,
    *,
    rules: Rules = Rules.BINANCE,
    mode: MarginMode = MarginMode.ISOLATED,
    other_mm: float = 0.0,
    other_upnl: float = 0.0,
    taker_fee: float = 0.0,
) -> Liquidation:
    """Liquidation price of a one-way position under `rules` (see the module docstring).

    Cross margin: `wallet` is the cross wallet, `other_mm`/`other_upnl` the other positions'
    maintenance margin and unrealised PnL at their marks. Bybit's published formula is isolated;
    in cross mode it falls back to the Binance algebra and is flagged approximate.
    """
    require_finite("wallet", wallet)
    require_non_negative("other_mm", other_mm)
    require_finite("other_upnl", other_upnl)
    require_non_negative("taker_fee", taker_fee)
    if mode is MarginMode.ISOLATED and (other_mm or other_upnl):
        raise InputError(
            "other_mm/other_upnl",
            (other_mm, other_upnl),
            "only cross margin shares other positions",
        )
    equity = wallet - other_mm + other_upnl
    if rules is Rules.BYBIT and mode is MarginMode.ISOLATED:
        return _bybit_isolated(pos, wallet, tiers)
    approximate = rules in (Rules.BYBIT, Rules.CONSERVATIVE)
    if rules is Rules.OKX:
        first = _first_crossing(pos, equity, tiers, taker_fee)
        if first is not None:
            return Liquidation(first[0], first[1], rules, approximate)
    for tier in tiers.tiers:
        price = _solve(pos, equity, *maintenance_terms(rules, tier, taker_fee))
        if price is not None and tiers.tier_for(notional(pos, price)) is tier:
            return Liquidation(price, tier, rules, approximate)
    # No bracket is self-consistent (or no liquidation exists): use the bracket at entry.
    tier = tiers.tier_for(notional(pos, pos.entry_price))
    price = _solve(pos, equity, *maintenance_terms(rules, tier, taker_fee))
    return Liquidation(price, tier, rules, approximate)


def wallet_for_liquidation_at(
    pos: Position,
    price: float,
    tiers: TierTable,
    *,
    rules: Rules = Rules.BINANCE,
    taker_fee: float = 0.0,
) -> float:
    """Isolated wallet (settle currency) that puts `pos`'s liquidation price at `price`.

    The inverse of `liquidation`: at the liquidation price the margin balance equals the
    maintenance margin, so WB = MM(price) - PnL(price), with MM of the bracket containing the
    notional at `price` as `rules` define it (Bybit: the MM fixed at entry). For a short, any
    wallet above it moves the liquidation price further up.
    """
    require_positive("price", price)
    if rules is Rules.BYBIT:
        entry_value = notional(pos, pos.entry_price)
        tier = tiers.tier_for(entry_value)
        mm = entry_value * tier.mmr - tier.cum
    else:
        mm = maintenance_margin(pos, price, tiers, rules, taker_fee)
    return mm - unrealized_pnl(pos, price)


def maintenance_terms(rules: Rules, tier: MarginTier, taker_fee: float) -> tuple[float, float]:
    """(rate, deduction) with MM = notional * rate - deduction, as `rules` define it.

    Binance and Bybit: the bracket's MMR and maintenance amount. OKX: MMR plus the liquidation
    fee (value * taker rate), no deduction. Conservative: the bracket's MMR and amount plus the
    taker fee as a buffer (continuous across brackets, never below Binance's).
    """
    if rules is Rules.OKX:
        return tier.mmr + taker_fee, 0.0
    if rules is Rules.CONSERVATIVE:
        return tier.mmr + taker_fee, tier.cum
    return tier.mmr, tier.cum


def _first_crossing(
    pos: Position, equity: float, tiers: TierTable, extra_rate: float
) -> tuple[float, MarginTier] | None:
    """OKX-style MM (value x rate, no deduction) jumps up at bracket edges, so the margin can
    run out exactly at an edge, which no per-bracket solve finds. The liquidation price is the
    point nearest to entry on the losing side where equity + PnL <= MM: a self-consistent root
    inside a bracket, or a bracket edge already under-margined. None if there is none there.
    """
    adverse = -pos.sign  # a short loses as the price rises, a long as it falls
    found: list[tuple[float, MarginTier]] = []
    for tier in tiers.tiers:
        rate, _ = maintenance_terms(Rules.OKX, tier, extra_rate)
        root = _solve(pos, equity, rate, 0.0)
        if root is not None and tiers.tier_for(notional(pos, root)) is tier:
            found.append((root, tier))
        if tier.floor > 0:
            edge = pos.face_usd / tier.floor if pos.is_inverse else tier.floor / pos.size
            value = tier.floor  # notional at the edge, in this bracket
            if equity + unrealized_pnl(pos, edge) <= value * rate:
                found.append((edge, tier))
    ahead = [c for c in found if (c[0] - pos.entry_price) * adverse >= 0]
    return min(ahead, key=lambda c: abs(c[0] - pos.entry_price)) if ahead else None


def _bybit_isolated(pos: Position, wallet: float, tiers: TierTable) -> Liquidation:
    entry_value = notional(pos, pos.entry_price)
    tier = tiers.tier_for(entry_value)
    mm0 = maintenance_of(entry_value, tier.mmr, tier.cum)
    s = pos.sign
    if pos.is_inverse:
        denom = entry_value + s * (wallet - mm0)
        price = pos.face_usd / denom if denom > 0 else None
    else:
        price = pos.entry_price - s * (wallet - mm0) / pos.size
    if price is not None and not (price > 0 and math.isfinite(price)):
        price = None
    return Liquidation(price, tier, Rules.BYBIT)


def bankruptcy_price(
    pos: Position, wallet: float, other_upnl: float = 0.0, close_fee_rate: float = 0.0
) -> float | None:
    """Price where margin balance, less the fee to close there, reaches zero.

    Linear: WB + UPNL1 + s*q*(P - EP) = q*P*fee. Inverse: WB + UPNL1 + s*Q*(1/EP - 1/P) = Q*fee/P.
    (Bybit's inverse example: 0.5 BTC, 10,000 contracts long @ 8,000, fee 0.075 % -> 5,718.57.)
    """
    require_non_negative("close_fee_rate", close_fee_rate)
    return _solve(pos, wallet + other_upnl, close_fee_rate, 0.0)


def trade_fee(pos: Position, price: float, fee_rate: float) -> float:
    """Maker or taker fee of trading `pos`'s size at `price`: notional at that price * rate.

    Linear in the quote currency (q * price), inverse in coin (Q / price)
    [Binance FAQ 360033544231: 1 BTC @ 10,104 taker 0.05 % = 5.052 USDT;
    10 BTCUSD contracts @ 11,104 maker 0.02 % = 0.0900576 BTC * 0.02 %].
    """
    require_finite("fee_rate", fee_rate)
    return fee_of(notional(pos, price), fee_rate)


def distance_to(price: float | None, mark: float) -> float | None:
    """|price - mark| / mark, or None when there is no such price."""
    return None if price is None else abs(price - mark) / mark


@dataclass(frozen=True)
class PositionRisk:
    """Everything a user asks about one position at one mark (settle-currency amounts)."""

    liquidation_price: float | None
    bankruptcy_price: float | None
    initial_margin: float
    maintenance_margin: float
    margin_balance: float
    margin_ratio: float
    distance_to_liquidation: float | None
    notional: float
    unrealized_pnl: float
    mmr: float
    cum: float
    rules: Rules
    approximate: bool
    settle_unit: str

    @property
    def liquidated(self) -> bool:
        """The mark is at or past the liquidation price: maintenance margin >= margin balance."""
        return self.margin_ratio >= 1.0


def position_risk(  # noqa: PLR0913 (keyword venue rules of one formula)
    pos: Position,
    *,
    leverage: float,
    mark: float | None = None,
    wallet: float | None = None,
    tiers: TierTable,
    rules: Rules = Rules.BINANCE,
    mode: MarginMode = MarginMode.ISOLATED,
    other_mm: float = 0.0,
    other_upnl: float = 0.0,
    taker_fee: float = 0.0,
    settle_unit: str = "",
) -> PositionRisk:
    """Liquidation and bankruptcy price, margins, ratio and distance for `pos` at `mark`.

    `wallet` defaults to the initial margin at `leverage` (an isolated position opened at entry).
    Leverage above the bracket maximum is refused.
    """
    mark = pos.entry_price if mark is None else require_positive("mark", mark)
    check_leverage(pos, leverage, tiers)
    im = initial_margin(pos, leverage)
    wallet = im if wallet is None else require_finite("wallet", wallet)
    liq = liquidation(
        pos,
        wallet,
        tiers,
        rules=rules,
        mode=mode,
        other_mm=other_mm,
        other_upnl=other_upnl,
        taker_fee=taker_fee,
    )
    close_fee = taker_fee if rules is not Rules.BINANCE else 0.0
    n = notional(pos, mark)
    tier = tiers.tier_for(n)
    return PositionRisk(
        liquidation_price=liq.price,
        bankruptcy_price=bankruptcy_price(pos, wallet, other_upnl, close_fee),
        initial_margin=im,
        maintenance_margin=maintenance_margin(pos, mark, tiers, rules, taker_fee),
        margin_balance=margin_balance(pos, wallet, mark, other_upnl),
        margin_ratio=margin_ratio(
            pos, wallet, mark, tiers, other_mm, other_upnl, rules=rules, taker_fee=taker_fee
        ),
        distance_to_liquidation=distance_to(liq.price, mark),
        notional=n,
        unrealized_pnl=unrealized_pnl(pos, mark),
        mmr=tier.mmr,
        cum=tier.cum,
        rules=rules,
        approximate=liq.approximate,
        settle_unit=settle_unit,
    )
