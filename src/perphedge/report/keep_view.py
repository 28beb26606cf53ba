"""Lines of `perphedge hedge keep`: each leg the keeper looked at, then what the step did."""

from __future__ import annotations

from perphedge.live.keep import KeepStep


def keep_step_lines(step: KeepStep) -> list[str]:
    """One line per leg (size, margin, distance to liquidation, actions), then what was done."""
    lines = []
    for leg in step.decision.legs:
        dist = "-" if leg.distance is None else f"{leg.distance:.1%}"
        lines.append(
            f"{leg.symbol}: short {leg.size:.8g}, margin {leg.margin:,.2f}, distance to "
            f"liquidation {dist}, {len(leg.actions)} action(s)"
        )
    return lines + [f"  {line}" for line in step.done]
