"""`run_batch(specs, data) -> BatchResult`: many configurations over the same data in one pass.

The specs must share their legs (holdings, columns, contract kinds, tiers); they may differ in
policy, ratio, leverage, costs, top-up and starting cash. Each is flattened and validated as
`run_backtest` does, then they run in `kernels.simulate_batch`, in chunks whose state fits
in the processor's cache, spread over threads (the kernel releases the GIL; the market arrays are
shared, never copied). Each configuration's figures equal its single run's (the tests hold them
to 1e-12).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import numpy.typing as npt

from perphedge import metrics
from perphedge.backtest import kernels as kn
from perphedge.backtest.engine import bars_per_year, flatten
from perphedge.backtest.kernels import simulate_batch
from perphedge.backtest.result import Curves, days_unhedged, summarize
from perphedge.backtest.spec import BacktestSpec, MarketArrays
from perphedge.errors import InputError

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

CHUNK_STATE_BYTES = 1 << 20  # per-chunk state: its hot rows stay within a core's L2 cache


@dataclass(frozen=True, eq=False)
class BatchResult:
    """Per configuration c (in the order of `specs`): equity at `times_ms[rec_bars]`, maximum
    drawdown, cash and the per-leg accumulators (`legs[c, i, kernels.A_*]`)."""

    specs: tuple[BacktestSpec, ...]
    times_ms: IntArray  # all bars
    rec_bars: IntArray
    equity_usd: FloatArray  # [C, R]
    max_drawdown: FloatArray  # [C]
    cash_usd: FloatArray  # [C, 2]: final, lowest at a close
    legs: FloatArray  # [C, L, N_LEG]
    holdings_usd: FloatArray  # [T]: sum of qty x spot, the same in every configuration

    @cached_property
    def _unhedged_drawdown(self) -> float:
        """Maximum drawdown of the holdings alone (every bar; the same in every configuration)."""
        return metrics.max_drawdown(self.holdings_usd)

    def leg_totals(self, field: int) -> FloatArray:
        """[C, L] of one accumulator, e.g. `kernels.A_FUND`."""
        out: FloatArray = self.legs[:, :, field]
        return out

    def summaries(self) -> list[dict[str, float | int]]:
        """Every configuration's headline figures, in `specs` order."""
        return [self.summary(c) for c in range(len(self.specs))]

    def summary(self, c: int) -> dict[str, float | int]:
        """Configuration c's headline figures, as `BacktestResult.summary` gives them."""
        lg, n_bars = self.legs[c], self.times_ms.size
        curves = Curves(
            self.equity_usd[c],
            self.holdings_usd[self.rec_bars],
            self.times_ms[self.rec_bars],
            float(self.max_drawdown[c]),
            self._unhedged_drawdown,
        )
        totals: dict[str, float | int] = {
            "funding_pnl": float(lg[:, kn.A_FUND].sum()),
            "fees": float(lg[:, kn.A_FEES].sum()),
            "basis_pnl": float((lg[:, kn.A_HPNL] + lg[:, kn.A_COVERED]).sum()),
            "hedge_pnl": float(lg[:, kn.A_HPNL].sum()),
            "liquidation_loss": float(lg[:, kn.A_LIQ].sum()),
            "liquidations": int(lg[:, kn.A_NLIQ].sum()),
            "top_ups": float(lg[:, kn.A_TOPUP].sum()),
            "margin_lost": float(lg[:, kn.A_LOST].sum()),
            "spot_sold_usd": float(lg[:, kn.A_PROCEEDS].sum()),
            "spot_fees": float(lg[:, kn.A_SPOTFEE].sum()),
            "reopens": int(lg[:, kn.A_REOPEN].sum()),
            "funding_switches": int(lg[:, kn.A_FSWITCH].sum()),
            "days_unhedged": days_unhedged(
                self.times_ms, float(lg[:, kn.A_HBARS].astype(np.int64).sum()), len(lg)
            ),
            "share_hedged": float(lg[:, kn.A_HBARS].astype(np.int64).sum()) / (n_bars * len(lg)),
            "trades": int(lg[:, kn.A_TRADES].astype(np.int64).sum()),
            "min_cash": float(self.cash_usd[c, kn.AC_MIN]),
        }
        return summarize(curves, totals)


def holdings_value(spec: BacktestSpec, data: MarketArrays) -> FloatArray:
    """Sum over the legs of qty x spot at every bar, in leg order (the unhedged equity less cash)."""
    total = np.zeros(data.n_bars)
    for leg in spec.legs:
        total += leg.qty_base * data.spot[:, leg.spot_col]
    return total


def _chunks(n_cfg: int, n_legs: int, jobs: int) -> list[tuple[int, int]]:
    """Configuration ranges of nearly equal size, at most CHUNK_STATE_BYTES of state each, in a
    multiple of `jobs` (so no thread is left with one chunk more than the others)."""
    jobs = max(jobs, 1)
    cap = max(1, CHUNK_STATE_BYTES // (n_legs * kn.N_LEG * 8))
    n_chunks = min(n_cfg, jobs * -(-n_cfg // (cap * jobs)))
    size = -(-n_cfg // n_chunks)
    return [(a, min(a + size, n_cfg)) for a in range(0, n_cfg, size)]


def run_batch(
    specs: Sequence[BacktestSpec],
    data: MarketArrays,
    jobs: int = 1,
    tick: Callable[[int], None] | None = None,
) -> BatchResult:
    """Run every spec over `data` in one batch (`jobs` threads); `tick(n)` after each chunk of n."""
    if not specs:
        raise InputError("specs", "[]", "give at least one configuration")
    legs = specs[0].legs
    for k, spec in enumerate(specs):
        if spec.legs != legs:
            raise InputError(f"specs[{k}].legs", "differ", "batch only specs with the same legs")
    bpy = bars_per_year(data.times_ms)
    flats = [flatten(spec, data, bpy) for spec in specs]
    lgb = np.stack([f.legs for f in flats])  # [C, L, N_LEG]; each chunk runs as [L, N_LEG, c]
    codes = np.array([f.code for f in flats], dtype=np.int64)
    pvecs = np.stack([f.params for f in flats])
    cfgs = np.stack([f.config for f in flats])
    accts = np.repeat([[float(s.initial_cash_usd)] for s in specs], 2, axis=1)
    rec = metrics.statistics_bars(data.times_ms)
    eq_rec = np.empty((len(specs), rec.size))
    dd = np.zeros(len(specs))
    cols = np.array([(leg.spot_col, leg.hedge_col) for leg in legs], dtype=np.int64)
    tiers = flats[0].tiers

    def run(bounds: tuple[int, int]) -> int:
        a, b = bounds
        state = np.ascontiguousarray(lgb[a:b].transpose(1, 2, 0))
        cash = np.ascontiguousarray(accts[a:b].T)  # [2, c]: each row contiguous
        simulate_batch(
            data.spot, data.perp, data.mark,
            data.funding_bar, data.funding_col, data.rate_per_interval,
            state, tiers, codes[a:b], pvecs[a:b], cfgs[a:b], cash, cols,
            data.mark_high, rec, eq_rec[a:b], dd[a:b],
        )  # fmt: skip
        lgb[a:b] = state.transpose(2, 0, 1)
        accts[a:b] = cash.T
        return b - a

    chunks = _chunks(len(specs), len(legs), jobs)
    with ThreadPoolExecutor(max(1, min(jobs, len(chunks)))) as pool:
        for done in pool.map(run, chunks):
            if tick is not None:
                tick(done)
    return BatchResult(
        tuple(specs), data.times_ms, rec, eq_rec, dd, accts, lgb, holdings_value(specs[0], data)
    )
