"""Sweep throughput: many configurations of the benchmark workload in one batched pass.

    .venv/bin/python bench/sweep_bench.py [--configs 256] [--jobs 2] [--json]

The workload of shared/reference/benchmark.md (T = 2,103,840 one-minute bars, K = 10 assets,
seeded synthetic data, `backtest_bench.make_data`) and a grid of configurations that differ in
hedge ratio, drift band, leverage and reserve (DriftBand policies), run by
`backtest.batch.run_batch` on `--jobs` threads, warm (compiled on a tiny input first).
Reports, measured in the same run: parameter-steps/s (configurations x bars x assets / wall
time), the read-once floor (the faster of np.sum and a numba loop reading spot and perpetual
once, one thread, median of 3), the wall time, the process's peak RSS during the sweep (reset
after the data is generated and the kernels compiled or loaded: interpreter, numba, inputs and
the sweep's own memory) against the input arrays plus the per-configuration state, and the
machine's load (os.getloadavg) before and after. With --json
the last line is {"configs", "param_steps_per_s", "floor_steps_per_s", "wall_s",
"peak_rss_bytes", "input_bytes"}.
"""

from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import os
import resource
import statistics
import time

import numpy as np

from backtest_bench import make_data, make_spec, peak_rss_bytes, reset_peak_rss, slice_data
from perphedge.backtest import BacktestSpec, DriftBand, MarketArrays
from perphedge.backtest import kernels as kn
from perphedge.backtest.batch import run_batch
from perphedge.backtest.kernels import read_once

RATIOS = (0.5, 0.75, 1.0, 1.25)
BANDS = (0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.3)
LEVERAGES = (2.0, 3.0, 4.0, 5.0, 6.0, 8.0)
RESERVES = (0.0, 50_000.0, 100_000.0, 200_000.0, 400_000.0, 800_000.0)


def grid(data: MarketArrays, n: int) -> list[BacktestSpec]:
    """`n` configurations: ratio x band x leverage x reserve, in that order, cycled if needed."""
    base = make_spec(data, 0.002)
    points = itertools.islice(
        itertools.cycle(itertools.product(RATIOS, BANDS, LEVERAGES, RESERVES)), n
    )
    return [
        dataclasses.replace(
            base,
            policy=DriftBand(r, b),
            leverage=lev,
            initial_cash_usd=base.initial_cash_usd + reserve,
        )
        for r, b, lev, reserve in points
    ]


def floor_steps_per_s(data: MarketArrays, runs: int = 3) -> float:
    read_once(data.spot[:10], data.perp[:10])  # compile
    best = []
    for fn in (lambda: (np.sum(data.spot), np.sum(data.perp)),
               lambda: read_once(data.spot, data.perp)):  # fmt: skip
        times = []
        for _ in range(runs):
            start = time.perf_counter()
            fn()
            times.append(time.perf_counter() - start)
        best.append(data.spot.size / statistics.median(times))
    return max(best)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--configs", type=int, default=256)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--json", action="store_true", help="end with the JSON line")
    args = parser.parse_args()
    load_before = os.getloadavg()
    data = make_data(args.seed)
    specs = grid(data, args.configs)
    run_batch(specs[:2], slice_data(data, 5_000), 1)  # compile (or load numba's cache)
    floor = floor_steps_per_s(data)
    whole_peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    reset_peak_rss()  # the peak of the sweep itself, with the inputs in memory
    start, start_cpu = time.perf_counter(), time.process_time()
    result = run_batch(specs, data, args.jobs)
    summaries = result.summaries()
    wall, cpu = time.perf_counter() - start, time.process_time() - start_cpu
    steps = len(specs) * data.spot.size
    input_bytes = data.spot.nbytes + data.perp.nbytes
    peak = peak_rss_bytes()
    state = result.legs.nbytes + result.equity_usd.nbytes + len(specs) * 4 * 8
    load_after = os.getloadavg()
    liquidated = sum(int(s["liquidations"] > 0) for s in summaries)
    print(f"{len(specs)} configurations x {data.n_bars:,} bars x {data.spot.shape[1]} assets "
          f"= {steps:,} parameter-steps on {args.jobs} threads")  # fmt: skip
    print(f"wall {wall:.2f} s (summaries included): {steps / wall / 1e6:,.0f} M parameter-steps/s"
          f" = {steps / wall / floor:.2f}x the read-once floor ({floor / 1e6:,.0f} M steps/s, "
          f"one thread)")  # fmt: skip
    limit = 2 * input_bytes + state
    print(f"CPU time {cpu:.2f} s over all threads: {steps / cpu / 1e6:,.0f} M parameter-steps per "
          f"CPU-second (what a loaded machine does not change much)")  # fmt: skip
    print(f"peak RSS {peak / 1e6:,.0f} MB {'<' if peak < limit else '>='} 2 x inputs "
          f"({2 * input_bytes / 1e6:,.0f} MB) + per-configuration state ({state / 1e6:,.1f} MB) "
          f"= {limit / 1e6:,.0f} MB; runs with a liquidation: {liquidated}")  # fmt: skip
    print(f"peak RSS before the sweep (data generation, compilation or cache load): "
          f"{whole_peak / 1e6:,.0f} MB")  # fmt: skip
    print(f"load average (1, 5, 15 min) before {load_before}, after {load_after}")
    assert result.legs.shape[2] == kn.N_LEG
    if args.json:
        print(json.dumps({
            "configs": len(specs), "param_steps_per_s": steps / wall, "floor_steps_per_s": floor,
            "wall_s": wall, "peak_rss_bytes": peak, "input_bytes": input_bytes,
        }))  # fmt: skip


if __name__ == "__main__":
    main()
