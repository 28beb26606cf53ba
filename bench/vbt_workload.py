"""The benchmark workload in vectorbt's order-function API (`from_order_func`, flexible=True).

vectorbt keeps the trades, fees, cash and the short positions' value; the isolated margin of each
short (variation margin, funding, liquidation test, re-margining) is kept by hand in the
pre-segment function, and the cash flows vectorbt does not know (funding, forfeited margin) are
added to its value afterwards. Same model as `perphedge.backtest` with a flat maintenance rate.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt
import vectorbt as vbt
from numba import njit
from vectorbt.portfolio.enums import SizeType
from vectorbt.portfolio.nb import order_nb, order_nothing_nb

FloatArray = npt.NDArray[np.float64]
TARGET_AMOUNT = int(SizeType.TargetAmount)
VBT_CASH = 1e9  # vectorbt needs cash as short collateral; the offset is removed afterwards


@njit(cache=True)
def _pre_segment(c: Any, spot, perp, qty, ev_bar, ev_col, ev_rate, cfg, st, flows):  # type: ignore[no-untyped-def]  # noqa: PLR0913 (numba callback)
    """Per bar: variation margin, funding, liquidation, band test; list the orders to send."""
    i = c.i
    n = spot.shape[1]
    hedge, lev, mmr, thr, fee = cfg[0], cfg[1], cfg[2], cfg[3], cfg[4]
    margin, prev, alive, rate, ptr = st[0], st[1], st[2], st[3], st[4]
    rate[:] = np.nan
    e = int(ptr[0])
    while e < ev_bar.size and ev_bar[e] == i:
        rate[ev_col[e]] = ev_rate[e]
        e += 1
    ptr[0] = e
    cols = np.empty(n, dtype=np.int64)
    sizes = np.empty(n)
    fees = np.empty(n)
    n_orders = 0
    for k in range(n):
        p = perp[i, k]
        if alive[k] == 0.0:
            continue
        pos = -c.last_position[k]
        if pos > 0.0:
            margin[k] -= pos * (p - prev[k])
            if not np.isnan(rate[k]):
                margin[k] += pos * p * rate[k]
                flows[i] += pos * p * rate[k]
            if margin[k] < mmr * pos * p:
                flows[i] -= margin[k]
                margin[k] = 0.0
                alive[k] = 0.0
                cols[n_orders], sizes[n_orders], fees[n_orders] = k, 0.0, 0.0
                n_orders += 1
                continue
        target = hedge * qty[k] * spot[i, k]
        if i == 0 or abs(pos * p - target) > thr * target:
            cols[n_orders], sizes[n_orders], fees[n_orders] = k, -target / p, fee
            n_orders += 1
            margin[k] = target / lev
        prev[k] = p
    return cols, sizes, fees, n_orders


@njit(cache=True)
def _order(c: Any, cols, sizes, fees, n_orders):  # type: ignore[no-untyped-def]
    if c.call_idx < n_orders:
        k = cols[c.call_idx]
        order = order_nb(
            size=sizes[c.call_idx],
            price=c.close[c.i, k],
            size_type=TARGET_AMOUNT,
            fees=fees[c.call_idx],
        )
        return k, order
    return -1, order_nothing_nb()


def run_vbt(
    spot: FloatArray,
    perp: FloatArray,
    qty: FloatArray,
    cash_usd: float,
    events: tuple[npt.NDArray[np.int64], npt.NDArray[np.int64], FloatArray],
    cfg: tuple[float, float, float, float, float],
    max_orders: int,
) -> FloatArray:
    """Run the workload; returns the hedged equity per bar (USD)."""
    n_bars, n_assets = spot.shape
    st = np.zeros((5, n_assets))
    st[1] = perp[0]
    st[2] = 1.0
    flows = np.zeros(n_bars)
    pf = vbt.Portfolio.from_order_func(
        perp,
        _order,
        flexible=True,
        init_cash=VBT_CASH,
        cash_sharing=True,
        group_by=True,
        pre_segment_func_nb=_pre_segment,
        pre_segment_args=(spot, perp, qty, *events, np.array(cfg), st, flows),
        max_orders=max_orders,
        freq="1min",
    )
    value = np.asarray(pf.value(), dtype=np.float64).ravel()
    holdings = spot @ qty
    equity: FloatArray = value - VBT_CASH + cash_usd + holdings + np.cumsum(flows)
    return equity
