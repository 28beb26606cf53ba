"""Rounding to exchange steps, annualisation helpers and tolerances.

Quantities are rounded toward zero (never buy or sell more than asked), prices to the nearest tick.
Exchange-bound numbers go through `Decimal(str(x))` so that 0.1 + 0.2 style float noise never reaches
an order.
"""

from __future__ import annotations

import math
from datetime import UTC, datetime
from decimal import ROUND_DOWN, ROUND_HALF_EVEN, Decimal

from perphedge.errors import InputError

HOURS_PER_YEAR = 24 * 365
REL_TOL = 1e-9  # tolerance for formula tests and invariants


def to_decimal(x: float | int | str | Decimal) -> Decimal:
    """Exact decimal of an exchange number, going through its shortest string form."""
    return x if isinstance(x, Decimal) else Decimal(str(x))


def round_qty_to_step(qty: float | Decimal, step: float | Decimal) -> Decimal:
    """Round a quantity toward zero to a whole number of `step`s.

    Never increases |qty|; idempotent. `step` must be > 0.
    """
    d_step = to_decimal(step)
    if d_step <= 0:
        raise InputError("step", step, "a quantity step must be greater than zero")
    d_qty = to_decimal(qty)
    n_steps = (d_qty / d_step).to_integral_value(rounding=ROUND_DOWN)
    return (n_steps * d_step).quantize(d_step)


CENT = Decimal("0.01")  # the step of a stablecoin amount as exchanges take it


def cents_down(usd: float) -> float:
    """|usd| rounded down to the cent, as a margin move or transfer of a stablecoin is sent
    (a message that states the amount says what is sent)."""
    return float(round_qty_to_step(abs(usd), CENT))


def round_price_to_tick(price: float | Decimal, tick: float | Decimal) -> Decimal:
    """Round a price to the nearest multiple of `tick` (ties to even)."""
    d_tick = to_decimal(tick)
    if d_tick <= 0:
        raise InputError("tick", tick, "a price tick must be greater than zero")
    n_ticks = (to_decimal(price) / d_tick).to_integral_value(rounding=ROUND_HALF_EVEN)
    return (n_ticks * d_tick).quantize(d_tick)


def periods_per_year(interval_hours: float) -> float:
    """How many funding intervals of `interval_hours` fit in a 365-day year."""
    if interval_hours <= 0:
        raise InputError(
            "interval_hours", interval_hours, "give the funding interval in hours, > 0"
        )
    return HOURS_PER_YEAR / interval_hours


def rel_close(a: float, b: float, rel: float = REL_TOL, abs_tol: float = 0.0) -> bool:
    """True when a and b agree to `rel` relative tolerance (or `abs_tol`)."""
    return abs(a - b) <= max(rel * max(abs(a), abs(b)), abs_tol)


def percent_to_fraction(field: str, percent: float, max_percent: float = 100.0) -> float:
    """An option given in percent (30 = 30 %) as a fraction (0.3); InputError outside 0-max."""
    if not (math.isfinite(percent) and 0.0 <= percent <= max_percent):
        raise InputError(field, percent, f"give a percent, 0-{max_percent:g} (30 = 30 %)")
    return percent / 100.0


UTC_MINUTE = "%Y-%m-%d %H:%M UTC"


def utc_text(ts_ms: int, fmt: str = UTC_MINUTE) -> str:
    """Epoch milliseconds as UTC time in strftime `fmt` ('2026-06-29 08:00 UTC' by default)."""
    return datetime.fromtimestamp(ts_ms / 1000, tz=UTC).strftime(fmt)
