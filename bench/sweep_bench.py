"""Sweep throughput: the same grid of backtests in 1 process and in N processes.

    .venv/bin/python bench/sweep_bench.py [--years 2] [--legs 2] [--runs 32] [--jobs 2]

Synthetic, seeded one-minute data (geometric random walk, perpetual at a 3 bp premium, funding
every 480 bars); a grid of DriftBand policies (ratios x bands x leverages). Prints wall time and
leg-bar steps per second for each process count, warm (numba's cache loaded by a first pass),
as the median of three passes.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

from perphedge.backtest import BacktestSpec, DriftBand, HedgeLeg, MarketArrays
from perphedge.cli.sweep import Combo, run_grid

MINUTE_MS = 60_000


def market(years: float, legs: int, seed: int = 7) -> MarketArrays:
    rng = np.random.default_rng(seed)
    n = int(years * 365 * 1440)
    times = np.arange(n, dtype=np.int64) * MINUTE_MS + 1_704_067_200_000
    spot = 100.0 * np.exp(np.cumsum(rng.normal(0.0, 0.0008, (n, legs)), axis=0))
    perp = spot * 1.0003
    bars = np.arange(480, n, 480, dtype=np.int64)
    names = tuple(f"A{k}" for k in range(legs))
    return MarketArrays(
        times,
        spot,
        perp,
        perp,
        np.repeat(bars, legs),
        np.tile(np.arange(legs, dtype=np.int64), bars.size),
        rng.normal(1e-4, 3e-4, bars.size * legs),
        names,
        tuple(f"{a}-PERP" for a in names),
    )


def grid(legs: int, runs: int) -> list[Combo]:
    hedge_legs = tuple(HedgeLeg(100.0, k, k) for k in range(legs))
    points = [(r, b, lev) for r in (0.5, 0.75, 1.0, 1.25) for b in (0.01, 0.02, 0.05, 0.1)
              for lev in (2.0, 3.0, 5.0, 10.0)]  # fmt: skip
    specs = [
        BacktestSpec(hedge_legs, DriftBand(r, b), initial_cash_usd=1e4, leverage=lev)
        for r, b, lev in points[:runs]
    ]
    return [Combo({}, "linear", s.leverage, s) for s in specs]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--years", type=float, default=2.0)
    parser.add_argument("--legs", type=int, default=2)
    parser.add_argument("--runs", type=int, default=32)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    data = {"linear": market(args.years, args.legs)}
    combos = grid(args.legs, args.runs)
    steps = len(combos) * data["linear"].n_bars * args.legs
    print(
        f"{len(combos)} runs x {data['linear'].n_bars:,} bars x {args.legs} legs = {steps:,} steps"
    )
    run_grid(combos[:1], data, 1, lambda: None)  # load numba's cache before timing
    for jobs in sorted({1, args.jobs}):
        times = []
        for _ in range(3):
            start = time.perf_counter()
            run_grid(combos, data, jobs, lambda: None)
            times.append(time.perf_counter() - start)
        wall = statistics.median(times)
        print(f"jobs={jobs}: {wall:.2f} s median of 3, {steps / wall / 1e6:.1f} M leg-bar steps/s")


if __name__ == "__main__":
    main()
