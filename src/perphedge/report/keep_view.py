"""Lines of `perphedge hedge keep`: each leg the keeper looked at, then what the step did."""

from __future__ import annotations

from perphedge.hedge.keeper_cross import WALLET
from perphedge.live.keep import KeepStep


def keep_step_lines(step: KeepStep) -> list[str]:
    """One line per leg (size, margin, distance to liquidation, actions; a cross account: one
    line for its wallet), then what was done."""
    lines = []
    for k, leg in enumerate(step.decision.legs):
        if step.wallet is not None:  # cross: the wallet's margin and distance, below
            lines.append(
                f"{leg.symbol}: short {leg.size:.8g} (cross), {len(leg.actions)} action(s)"
            )
            continue
        dist = _distance(leg.distance)
        found = step.found[k] if k < len(step.found) else leg.distance
        if leg.actions and found != leg.distance:  # as found -> after the step's actions
            dist = f"{_distance(found)} -> {dist}"
        lines.append(
            f"{leg.symbol}: short {leg.size:.8g}, margin {leg.margin:,.2f}, distance to "
            f"liquidation {dist}, {len(leg.actions)} action(s)"
        )
    wallet = step.wallet
    if wallet is not None:
        dist = _distance(wallet.distance)
        if wallet.transfer_usd > 0.0:
            dist = f"{dist} -> {_distance(wallet.distance_after)}"
        lines.append(f"{WALLET}: distance to liquidation {dist} (all marks up together)")
    return lines + [f"  {done.line}" for done in step.done]


def _distance(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"
