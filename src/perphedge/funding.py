"""Funding: THE sign convention, payments, accrual and annualisation.

The exchanges' rule, and the only place perphedge encodes it: a **positive** funding rate means
longs pay shorts. A short hedge therefore *earns* funding when the rate is positive and *pays*
when it is negative. Cash to the holder per event = -s * notional_at_mark * rate, with
notional = q * mark (linear, quote currency) or Q / mark (inverse, coin).
[Binance FAQ 360033525031; Bybit and OKX funding pages]

Rates are fractions per funding interval (0.0001 = 0.01 % per interval); arrays use float64 and
int64 epoch milliseconds. NaN rates or marks propagate as NaN; callers validate input first.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import numpy as np
import numpy.typing as npt

from perphedge.instruments import ContractKind
from perphedge.margin import Position, notional
from perphedge.units import periods_per_year

FloatArray = npt.NDArray[np.float64]
Num = TypeVar("Num", float, FloatArray)

SIGN_RULE = "positive funding rate: longs pay shorts, so a short hedge earns; negative: it pays"


def funding_cash(signed_size: Num, rate: Num, notional_per_size: Num) -> Num:
    """Cash to the holder of `signed_size` (+long/-short) for one event: -size * value * rate.

    Plain arithmetic on floats or numpy arrays, so numba kernels can compile it with
    `numba.njit(funding_cash)` and `funding_payments` applies it element-wise.

    `notional_per_size` turns one unit of size into notional at `mark`: `mark` for linear
    (base coin), contract_size / mark for inverse (contracts -> coin).
    """
    return -signed_size * notional_per_size * rate


def funding_payment(pos: Position, mark: float, rate: float) -> float:
    """Cash received by `pos` (negative: paid) at one funding event, in the settle currency."""
    return funding_cash(pos.sign * pos.size, rate, notional(pos, mark) / pos.size)


def funding_payments(
    signed_size: FloatArray | Sequence[float],
    marks: FloatArray | Sequence[float],
    rates: FloatArray | Sequence[float],
    kind: ContractKind = ContractKind.LINEAR,
    contract_size: float = 1.0,
) -> FloatArray:
    """Vectorised cash per event for sizes (+long/-short) held at each event."""
    size = np.asarray(signed_size, dtype=np.float64)
    mark = np.asarray(marks, dtype=np.float64)
    rate = np.asarray(rates, dtype=np.float64)
    per_size = contract_size / mark if kind is ContractKind.INVERSE else mark
    return funding_cash(size, rate, per_size)


def position_at(
    event_times_ms: npt.NDArray[np.int64] | Sequence[int],
    change_times_ms: npt.NDArray[np.int64] | Sequence[int],
    sizes_after_change: FloatArray | Sequence[float],
) -> FloatArray:
    """Signed size held at each event: the size after the last change at or before it (0 before any).

    Only positions open at the funding timestamp pay or receive.
    """
    events = np.asarray(event_times_ms, dtype=np.int64)
    changes = np.asarray(change_times_ms, dtype=np.int64)
    sizes = np.concatenate(([0.0], np.asarray(sizes_after_change, dtype=np.float64)))
    if changes.size and np.any(np.diff(changes) < 0):
        raise ValueError("change times must be ascending")
    index = np.searchsorted(changes, events, side="right")
    result: FloatArray = sizes[index]
    return result


def accrue_funding(
    event_times_ms: npt.NDArray[np.int64] | Sequence[int],
    marks: FloatArray | Sequence[float],
    rates: FloatArray | Sequence[float],
    change_times_ms: npt.NDArray[np.int64] | Sequence[int],
    sizes_after_change: FloatArray | Sequence[float],
    kind: ContractKind = ContractKind.LINEAR,
    contract_size: float = 1.0,
) -> float:
    """Total funding received over a series of events while the position changes."""
    held = position_at(event_times_ms, change_times_ms, sizes_after_change)
    return float(np.sum(funding_payments(held, marks, rates, kind, contract_size)))


def apr(rate_per_interval: float, interval_hours: float) -> float:
    """Simple annualisation: rate * (24 / interval_h) * 365. 0.01 % per 8 h -> 10.95 %."""
    return rate_per_interval * periods_per_year(interval_hours)


def apy(rate_per_interval: float, interval_hours: float) -> float:
    """Compounded annualisation: (1 + rate) ** periods_per_year - 1."""
    return float((1.0 + rate_per_interval) ** periods_per_year(interval_hours) - 1.0)


def short_earns(rate: float) -> bool:
    """True when a short receives funding at this rate (rate > 0)."""
    return rate > 0


def describe_for_short(rate: float) -> str:
    """Plain words for what the rate means for a short hedge."""
    if rate > 0:
        return "short hedge earns funding (longs pay shorts)"
    if rate < 0:
        return "short hedge pays funding (shorts pay longs)"
    return "no funding exchanged"
