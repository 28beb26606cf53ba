"""The venues perphedge knows: ccxt ids, funding intervals, liquidation rules and capabilities.

This module is plain data (no ccxt import at module level); adapters and commands look venues up
here, so that a venue's gaps are stated in one place instead of discovered with money.

Capabilities have three states (`Support`):

* ``yes``        ccxt says the venue can do it **and** a perphedge test feeds a recorded response
                 of that venue to the unmodified ccxt client and checks the result
                 (`Venue.proven`; tests/venues/test_venue_*.py register each proof);
* ``unverified`` ccxt says yes but we hold no recorded response proving it;
* ``no``         ccxt (or the venue) does not offer it, or a recorded response shows that ccxt
                 claims it but does not deliver it (`Venue.disproven`).

ccxt's own flags are read in `perphedge.exchanges.capabilities` (the ccxt-importing side);
`require(venue, capability)` refuses a ``no`` with a one-line CapabilityError naming the gap.

Liquidation: Binance, Bybit and OKX publish their formula (see perphedge.margin). BingX, MEXC and
WEEX publish none; perphedge uses `Rules.CONSERVATIVE` for them (Binance algebra with the venue's
maintenance-margin brackets plus the taker fee as buffer) and every result is flagged approximate.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from perphedge.errors import InputError
from perphedge.margin import Rules


class Capability(StrEnum):
    """What a command may need from a venue (USDT-margined swaps unless the name says coin)."""

    MARKETS = "markets"
    LEVERAGE_TIERS = "leverage_tiers"
    COIN_MARGINED = "coin_margined"
    MARK_PRICE = "mark_price"
    FUNDING_RATE = "funding_rate"
    FUNDING_HISTORY = "funding_history"
    FUNDING_INTERVAL = "funding_interval"
    BALANCES = "balances"
    POSITIONS = "positions"
    CREATE_ORDER = "create_order"
    CANCEL_ORDER = "cancel_order"
    FETCH_ORDER = "fetch_order"
    REDUCE_ONLY = "reduce_only"
    CLIENT_ORDER_ID = "client_order_id"
    SET_LEVERAGE = "set_leverage"
    HEDGE_MODE = "hedge_mode"

    @property
    def description(self) -> str:
        return _DESCRIPTIONS[self]


_DESCRIPTIONS: dict[Capability, str] = {
    Capability.MARKETS: "list swap markets (contract size, steps, max leverage)",
    Capability.LEVERAGE_TIERS: "publish maintenance-margin tiers",
    Capability.COIN_MARGINED: "trade coin-margined (inverse) perpetuals",
    Capability.MARK_PRICE: "report the mark price",
    Capability.FUNDING_RATE: "report the current funding rate",
    Capability.FUNDING_HISTORY: "serve funding-rate history",
    Capability.FUNDING_INTERVAL: "report each symbol's funding interval",
    Capability.BALANCES: "report balances",
    Capability.POSITIONS: "report positions",
    Capability.CREATE_ORDER: "place orders",
    Capability.CANCEL_ORDER: "cancel orders",
    Capability.FETCH_ORDER: "look an order up",
    Capability.REDUCE_ONLY: "place reduce-only orders",
    Capability.CLIENT_ORDER_ID: "place orders with a client order id and look them up by it",
    Capability.SET_LEVERAGE: "set leverage",
    Capability.HEDGE_MODE: "hold hedge-mode (long and short) positions",
}


class Support(StrEnum):
    YES = "yes"
    UNVERIFIED = "unverified"
    NO = "no"


# What each command needs before it starts (checked at its entry by `require_for`).
COMMAND_NEEDS: dict[str, tuple[Capability, ...]] = {
    "plan": (Capability.MARKETS, Capability.MARK_PRICE, Capability.FUNDING_RATE),
    "funding": (Capability.FUNDING_HISTORY,),
    "monitor": (
        Capability.POSITIONS,
        Capability.BALANCES,
        Capability.MARK_PRICE,
        Capability.FUNDING_RATE,
    ),
    "hedge": (
        Capability.MARKETS,
        Capability.POSITIONS,
        Capability.BALANCES,
        Capability.CREATE_ORDER,
        Capability.CANCEL_ORDER,
        Capability.FETCH_ORDER,
        Capability.REDUCE_ONLY,
        Capability.CLIENT_ORDER_ID,
    ),
}


@dataclass(frozen=True)
class Venue:
    """One exchange as perphedge uses it.

    `ccxt_linear` / `ccxt_inverse`: ccxt exchange ids for USDT-margined and coin-margined swaps
    (None: not offered through ccxt). `liquidation_rules`: whose formula to apply; when
    `liquidation_published` is False the venue publishes no formula and the result is a
    conservative approximation, flagged as such in every output.
    `funding_intervals_hours`: the intervals the venue uses (the first is the default);
    `funding_interval_field`: where the per-symbol interval comes from in the venue's API.
    `proven`: capabilities a perphedge test exercises on a recorded response of this venue;
    `disproven`: capabilities ccxt claims but a recorded response shows it does not deliver.
    """

    name: str
    ccxt_linear: str | None
    ccxt_inverse: str | None
    liquidation_rules: Rules
    liquidation_published: bool
    default_funding_interval_hours: float = 8.0
    funding_intervals_hours: tuple[float, ...] = (8.0,)
    funding_interval_field: str = ""
    proven: frozenset[Capability] = frozenset()
    disproven: frozenset[Capability] = frozenset()
    notes: str = ""

    @property
    def liquidation_label(self) -> str:
        if self.liquidation_published:
            return f"published ({self.liquidation_rules.value})"
        return f"approximate ({self.liquidation_rules.value})"

    @property
    def funding_interval_label(self) -> str:
        hours = "/".join(f"{h:g}h" for h in sorted(self.funding_intervals_hours))
        if len(self.funding_intervals_hours) == 1:
            return f"{hours} only"
        return f"{self.default_funding_interval_hours:g}h default; {hours}"


_ALL = frozenset(Capability)

VENUES: dict[str, Venue] = {
    v.name: v
    for v in (
        Venue(
            "binance",
            "binanceusdm",
            "binancecoinm",
            Rules.BINANCE,
            True,
            funding_intervals_hours=(8.0, 4.0, 2.0, 1.0),
            funding_interval_field="GET /fapi/v1/fundingInfo fundingIntervalHours",
            proven=frozenset(
                {
                    Capability.MARKETS,
                    Capability.FUNDING_HISTORY,
                    Capability.FUNDING_RATE,
                    Capability.MARK_PRICE,
                    Capability.LEVERAGE_TIERS,
                    Capability.POSITIONS,
                    Capability.COIN_MARGINED,
                }
            ),
            notes=(
                "USDⓈ-M and COIN-M are separate ccxt exchanges; orders are tested against a fake "
                "Binance server (live tests), not recordings"
            ),
        ),
        Venue(
            "bybit",
            "bybit",
            "bybit",
            Rules.BYBIT,
            True,
            funding_intervals_hours=(8.0, 4.0, 2.0, 1.0),
            funding_interval_field="GET /v5/market/instruments-info fundingInterval (minutes)",
            proven=_ALL
            - {Capability.FUNDING_INTERVAL, Capability.CANCEL_ORDER, Capability.HEDGE_MODE},
            notes=(
                "recorded bodies are 2022-23 documentation samples (risk-limit rates in percent "
                "there, fractions live); client ids are orderLinkId, looked up via open orders"
            ),
        ),
        Venue(
            "okx",
            "okx",
            "okx",
            Rules.OKX,
            True,
            funding_intervals_hours=(8.0, 4.0, 2.0, 1.0),
            funding_interval_field="fundingTime/nextFundingTime of GET /api/v5/public/funding-rate",
            proven=_ALL
            - {Capability.LEVERAGE_TIERS, Capability.CANCEL_ORDER, Capability.HEDGE_MODE},
            notes=(
                "recorded bodies are documentation samples; no swap position-tier sample; the "
                "mark price comes from its own endpoint, not the funding-rate body"
            ),
        ),
        Venue(
            "bingx",
            "bingx",
            "bingx",
            Rules.CONSERVATIVE,
            False,
            funding_intervals_hours=(8.0, 4.0, 2.0, 1.0),
            funding_interval_field="GET /openApi/swap/v2/quote/premiumIndex fundingIntervalHours",
            proven=_ALL - {Capability.CANCEL_ORDER, Capability.CLIENT_ORDER_ID},
            notes=(
                "cancel has no recording; a lookup by client id also sends orderId=None "
                "(ccxt 4.5.90), so client ids stay unverified; ccxt leaves the contract's max "
                "leverage in the raw row (perphedge reads maxLongLeverage there)"
            ),
        ),
        Venue(
            "mexc",
            "mexc",
            "mexc",
            Rules.CONSERVATIVE,
            False,
            funding_intervals_hours=(8.0, 4.0, 1.0),
            funding_interval_field="GET /api/v1/contract/funding_rate collectCycle (hours)",
            proven=frozenset(
                {
                    Capability.MARKETS,
                    Capability.LEVERAGE_TIERS,
                    Capability.FUNDING_RATE,
                    Capability.FUNDING_INTERVAL,
                    Capability.FUNDING_HISTORY,
                    Capability.BALANCES,
                    Capability.POSITIONS,
                    Capability.CREATE_ORDER,
                    Capability.REDUCE_ONLY,
                    Capability.FETCH_ORDER,
                    Capability.SET_LEVERAGE,
                }
            ),
            disproven=frozenset({Capability.MARK_PRICE, Capability.CLIENT_ORDER_ID}),
            notes=(
                "ccxt drops the mark price (fairPrice); tier bounds are in contracts, not "
                "notional; contract order side 2 (close short) parses as 'sell'; the client "
                "id (externalOid) is sent but a swap order cannot be looked up by it"
            ),
        ),
        Venue(
            "weex",
            "weex",
            None,
            Rules.CONSERVATIVE,
            False,
            funding_intervals_hours=(8.0,),
            funding_interval_field="GET /capi/v3/market/premiumIndex collectCycle (minutes)",
            proven=frozenset(
                {
                    Capability.MARKETS,
                    Capability.MARK_PRICE,
                    Capability.FUNDING_RATE,
                    Capability.FUNDING_INTERVAL,
                    Capability.FUNDING_HISTORY,
                    Capability.BALANCES,
                    Capability.POSITIONS,
                    Capability.FETCH_ORDER,
                    Capability.CANCEL_ORDER,
                    Capability.SET_LEVERAGE,
                }
            ),
            disproven=frozenset({Capability.CLIENT_ORDER_ID}),
            notes=(
                "no maintenance-margin tiers through ccxt (flat rate needed); no recorded swap "
                "order placement, so placing and reduce-only stay unverified; ccxt cannot look "
                "a swap order up by client id"
            ),
        ),
    )
}


def venue(name: str) -> Venue:
    """The venue called `name` (case-insensitive); InputError listing the known ones otherwise."""
    found = VENUES.get(name.strip().lower())
    if found is None:
        raise InputError("exchange", name, f"use one of {', '.join(sorted(VENUES))}")
    return found
