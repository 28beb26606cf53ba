"""The core's money formulas as the kernels compile them, and the kernels' numba options."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar, cast

import numba

from perphedge.funding import funding_cash
from perphedge.hedge.keeper import funding_switch, trailing_cost_apr
from perphedge.margin import fee_of, maintenance_of, notional_of, pnl_of

# The money formulas are the core's own functions, compiled and inlined where they are called:
# written once (margin.py, funding.py), so the kernel cannot drift from the core.
_inline = numba.njit(cache=True, inline="always", error_model="numpy")
# typed as the scalar use here (funding_cash is generic over floats and arrays)
_funding_cash = cast(Callable[[float, float, float], float], _inline(funding_cash))
_notional = cast(Callable[[float, float, float, bool], float], _inline(notional_of))
_pnl = cast(Callable[[float, float, float, float, bool], float], _inline(pnl_of))
_fee = cast(Callable[[float, float], float], _inline(fee_of))
_maintenance = cast(Callable[[float, float, float], float], _inline(maintenance_of))
# the keeper's funding regime: the live keeper's own rule and cost
_funding_switch = cast(
    Callable[[bool, float, float, float, float, float], bool], _inline(funding_switch)
)
_trailing_cost = cast(Callable[[float, float, float], float], _inline(trailing_cost_apr))

# numpy error model: float division by zero gives inf instead of raising (no denominator here is
# ever zero: prices, contract sizes and leverage are validated > 0), which keeps raise paths and
# their reference counting out of the loop.
jit = numba.njit(cache=True, nogil=True, error_model="numpy")
# compiled into its caller: no call
jit_inline = numba.njit(cache=True, nogil=True, error_model="numpy", inline="always")
_NO_RUNTIME: dict[str, Any] = {"_nrt": False}  # numba's own option, not in its type stubs
_F = TypeVar("_F", bound=Callable[..., object])


def jit_bare(fn: _F) -> _F:
    """`jit` without numba's runtime (NRT), for a loop that allocates nothing: no reference
    counting. With it, every array handed to an inlined function (the full step takes nine) is
    counted up and down by an atomic call, and numba's pruning pass leaves most of them in place
    across the step's branches: about 14 calls, most of a full step's cost. The caller allocates
    the arrays and keeps them alive."""
    return cast(_F, numba.njit(cache=True, nogil=True, error_model="numpy", **_NO_RUNTIME)(fn))
