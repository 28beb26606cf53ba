"""Warnings and notes of a hedge plan: what the user should act on or know.

Pure. Warning codes (stable for scripts): liquidation_close, funding_cost, no_perpetual,
no_offline_spec,
below_minimum (raised while sizing, in perphedge.hedge.sizing).
"""

from __future__ import annotations

from collections.abc import Mapping

from perphedge.hedge.model import (
    INVERSE_RESIDUAL_RISKS,
    HedgeSpec,
    LegMarket,
    PlanLeg,
    PlanWarning,
)
from perphedge.instruments import ContractKind
from perphedge.portfolio import Portfolio


def leg_warnings(leg: PlanLeg, spec: HedgeSpec) -> list[PlanWarning]:
    out = []
    d = leg.liquidation_distance
    if leg.position is not None and d is not None and d < spec.min_liquidation_distance:
        out.append(
            PlanWarning(
                "liquidation_close",
                leg.symbol,
                f"the short is liquidated at {leg.liquidation_price:,.2f}, only {d:.1%} above "
                f"the mark: too close for an insurance hedge (limit "
                f"{spec.min_liquidation_distance:.0%}); lower the leverage or add margin",
            )
        )
    if leg.position is not None and -leg.funding_apr > spec.max_funding_cost_apr:
        out.append(
            PlanWarning(
                "funding_cost",
                leg.symbol,
                f"the short pays funding at {-leg.funding_apr:.2%} a year "
                f"({-leg.funding_per_year_usd:,.2f} USD), above the limit "
                f"{spec.max_funding_cost_apr:.2%}",
            )
        )
    return out


def no_perpetual_warnings(
    portfolio: Portfolio,
    spec: HedgeSpec,
    markets: Mapping[str, LegMarket | None],
    unbundled: frozenset[str] = frozenset(),
) -> list[PlanWarning]:
    """A warning per hedge asset left without a perpetual. `unbundled`: assets whose offline
    contract spec is missing (the venue may list them), said as such."""
    out = []
    for asset in dict.fromkeys(h.hedge_asset for h in portfolio.holdings):
        if asset in unbundled:
            out.append(
                PlanWarning(
                    "no_offline_spec",
                    asset,
                    f"no {spec.exchange} {spec.kind.value} contract spec for {asset} is "
                    "bundled for offline use: left unhedged in this plan; plan --live reads "
                    "the exchange's",
                )
            )
        elif markets.get(asset) is None:
            out.append(
                PlanWarning(
                    "no_perpetual",
                    asset,
                    f"no {spec.kind.value} perpetual for {asset} on {spec.exchange}: left "
                    f'unhedged; hedge it with a proxy, e.g. proxy = "BTC" and a beta '
                    f"(perphedge beta {asset} --vs BTC)",
                )
            )
    return out


def leg_notes(leg: PlanLeg, coins_backing: float) -> list[str]:
    if leg.position is None:
        return []
    if leg.kind is ContractKind.INVERSE:
        lev = leg.notional_usd / leg.mark / coins_backing
        return [
            f"{leg.symbol}: {leg.qty} contracts x {leg.instrument.contract_size:g} USD = "
            f"{leg.notional_usd:,.0f} USD short, backed by {coins_backing:g} {leg.settle} "
            f"moved to the coin-margined wallet (effective leverage {lev:.2f}x): "
            + (
                "no liquidation price"
                if leg.liquidation_price is None
                else f"liquidated at {leg.liquidation_price:,.2f}"
            ),
            f"{leg.symbol} residual risks: " + "; ".join(INVERSE_RESIDUAL_RISKS),
        ]
    if leg.liquidation_price is None:
        return []
    per_pct = leg.notional_usd / 100.0
    return [
        f"{leg.symbol}: a rally drains the {leg.settle} margin: each +1 % costs about "
        f"{per_pct:,.2f} {leg.settle} (the coins gain as much, but not in this account); at "
        f"{leg.liquidation_price:,.2f} (+{leg.liquidation_distance or 0:.1%}) the short is "
        "liquidated and the holding is unhedged from there on"
    ]


def market_notes(markets: Mapping[str, LegMarket | None], used: set[str]) -> list[str]:
    notes = []
    for market in markets.values():
        if market is None or market.instrument.symbol not in used:
            continue
        symbol = market.instrument.symbol
        if market.funding_source.startswith("baseline"):
            notes.append(
                f"{symbol}: no funding rate in the data; planned with the exchange's "
                f"{market.rate_per_interval:.4%} per {market.interval_hours:g} h baseline"
            )
        if market.instrument.tiers.source.startswith("assumed"):
            notes.append(f"{symbol}: margin tiers {market.instrument.tiers.source}")
    return notes
