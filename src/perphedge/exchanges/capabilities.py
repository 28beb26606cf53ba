"""Capabilities of each venue: ccxt's own flags, checked against perphedge's recorded proofs.

ccxt states what it implements per exchange in `exchange.has` (True, 'emulated', False or None)
and `exchange.features` (e.g. whether swap orders may be hedged). A capability is

* ``yes``        when ccxt claims it and `Venue.proven` lists it (a test feeds a recorded
                 response of that venue to the unmodified ccxt client and checks the result);
* ``unverified`` when ccxt claims it but no recorded response proves it;
* ``no``         when ccxt does not claim it (or the venue has no ccxt id for that contract type),
                 or when a recorded response shows ccxt claims it but does not deliver it.

Which ccxt flag stands for which capability is `CCXT_FLAGS`; client order ids are not a `has`
flag, so they are read from whether ccxt's order-building code passes `clientOrderId` through.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from perphedge.errors import CapabilityError
from perphedge.venues.registry import COMMAND_NEEDS, VENUES, Capability, Support, Venue, venue

# Any one of these ccxt `has` flags being True or 'emulated' means ccxt claims the capability.
CCXT_FLAGS: dict[Capability, tuple[str, ...]] = {
    Capability.MARKETS: ("fetchMarkets",),
    Capability.LEVERAGE_TIERS: ("fetchLeverageTiers", "fetchMarketLeverageTiers"),
    # ccxt's funding-rate structure carries markPrice; fetchMarkPrice is the dedicated call.
    Capability.MARK_PRICE: ("fetchMarkPrice", "fetchFundingRate"),
    Capability.FUNDING_RATE: ("fetchFundingRate",),
    Capability.FUNDING_HISTORY: ("fetchFundingRateHistory",),
    # the interval comes with the funding-rate structure (`interval`) or a dedicated call.
    Capability.FUNDING_INTERVAL: ("fetchFundingInterval", "fetchFundingIntervals"),
    Capability.BALANCES: ("fetchBalance",),
    Capability.POSITIONS: ("fetchPositions",),
    Capability.CREATE_ORDER: ("createOrder",),
    Capability.CANCEL_ORDER: ("cancelOrder",),
    Capability.FETCH_ORDER: ("fetchOrder",),
    Capability.REDUCE_ONLY: ("createReduceOnlyOrder",),
    Capability.SET_LEVERAGE: ("setLeverage",),
    Capability.HEDGE_MODE: ("setPositionMode",),
}

_ORDER_BUILDERS = (
    "create_order",
    "create_order_request",
    "create_swap_order",
    "create_contract_order",
)


@functools.cache
def _exchange(ccxt_id: str) -> Any:
    """A ccxt exchange object (no network: constructing one sends nothing)."""
    import ccxt  # imported on first use: offline commands start without it

    return getattr(ccxt, ccxt_id)()


def _flag_on(value: object) -> bool:
    return value is True or value == "emulated"


def _passes_client_order_id(ccxt_id: str) -> bool:
    """Whether ccxt's order-building code reads the unified `clientOrderId` (False when the
    installed ccxt ships no source to read: not claimed, so never more than 'no')."""
    cls = type(_exchange(ccxt_id))
    try:
        return any(
            "clientOrderId" in inspect.getsource(getattr(cls, name))
            for name in _ORDER_BUILDERS
            if hasattr(cls, name)
        )
    except (OSError, TypeError):
        return False


def _hedged_orders(ccxt_id: str) -> bool:
    swap = _exchange(ccxt_id).features.get("swap") or {}
    linear = swap.get("linear") or {}
    return bool((linear.get("createOrder") or {}).get("hedged"))


def _inverse_offered(venue: Venue) -> bool:
    if venue.ccxt_inverse is None:
        return False
    swap = _exchange(venue.ccxt_inverse).features.get("swap") or {}
    return bool(swap.get("inverse"))


@functools.cache
def ccxt_claims(venue: Venue) -> Mapping[Capability, bool]:
    """What ccxt (the installed version) says `venue` can do, per capability (linear swaps).

    Read-only and computed once per venue (ccxt's flags do not change while running).
    """
    if venue.ccxt_linear is None:
        return MappingProxyType(dict.fromkeys(Capability, False))
    has = _exchange(venue.ccxt_linear).has
    claims = {
        cap: any(_flag_on(has.get(flag)) for flag in flags) for cap, flags in CCXT_FLAGS.items()
    }
    claims[Capability.COIN_MARGINED] = _inverse_offered(venue)
    claims[Capability.CLIENT_ORDER_ID] = _passes_client_order_id(venue.ccxt_linear)
    claims[Capability.HEDGE_MODE] = claims[Capability.HEDGE_MODE] and _hedged_orders(
        venue.ccxt_linear
    )
    # Venues whose funding-rate body names the interval: ccxt parses it into `interval`.
    if venue.funding_interval_field and _flag_on(has.get("fetchFundingRate")):
        claims[Capability.FUNDING_INTERVAL] = True
    return MappingProxyType(claims)


def support(venue: Venue, capability: Capability) -> Support:
    """`yes`, `unverified` or `no` for `capability` on `venue` (see the module docstring)."""
    if capability in venue.disproven or not ccxt_claims(venue)[capability]:
        return Support.NO
    return Support.YES if capability in venue.proven else Support.UNVERIFIED


@dataclass(frozen=True)
class VenueCapabilities:
    """One row of `perphedge exchanges`."""

    venue: str
    ccxt_ids: tuple[str, ...]
    support: dict[str, Support]
    funding_interval: str
    funding_interval_field: str
    liquidation: str
    notes: str


def capability_table() -> list[VenueCapabilities]:
    """Every known venue with the support of every capability, in registry order."""
    rows = []
    for v in VENUES.values():
        ids = tuple(dict.fromkeys(i for i in (v.ccxt_linear, v.ccxt_inverse) if i))
        rows.append(
            VenueCapabilities(
                venue=v.name,
                ccxt_ids=ids,
                support={cap.value: support(v, cap) for cap in Capability},
                funding_interval=v.funding_interval_label,
                funding_interval_field=v.funding_interval_field,
                liquidation=v.liquidation_label,
                notes=v.notes,
            )
        )
    return rows


def ccxt_version() -> str:
    import ccxt

    return str(ccxt.__version__)


def require(name: str, capability: Capability) -> Support:
    """`yes` or `unverified` when venue `name` can do `capability`; CapabilityError otherwise.

    The error is one line naming the venue, the missing capability and the venues that have it.
    Callers should say so when the answer is `unverified` (ccxt claims it; no recorded proof).
    """
    found = venue(name)
    status = support(found, capability)
    if status is Support.NO:
        others = [v.name for v in VENUES.values() if support(v, capability) is not Support.NO]
        raise CapabilityError(
            f"{found.name} cannot {capability.description} (capability '{capability.value}' "
            f"missing); use one of {', '.join(others) or 'none'} or see `perphedge exchanges`"
        )
    return status


def require_for(
    command: str, name: str, *, coin_margined: bool = False, live: bool = True
) -> list[Capability]:
    """Check everything `command` needs on venue `name` (see COMMAND_NEEDS) before it starts.

    `live=False` (offline work on stored data) checks only that the venue offers the contract
    type. Returns the needed capabilities that are only `unverified`, so the command can say so.
    """
    needs = list(COMMAND_NEEDS.get(command, ())) if live else []
    if coin_margined:
        needs.append(Capability.COIN_MARGINED)
    return [cap for cap in needs if require(name, cap) is Support.UNVERIFIED]


def unverified_notes(name: str, capabilities: list[Capability]) -> tuple[str, ...]:
    """One line per unverified capability, for a command's notes or warnings."""
    return tuple(
        f"{name}: '{cap.value}' is unverified (ccxt claims it; no recorded response proves it)"
        for cap in capabilities
    )
