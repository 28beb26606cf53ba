"""Backtest speed and memory on the workload of shared/reference/benchmark.md, in one run.

T = 2,103,840 one-minute bars (4 x 365.25 days), K = 10 assets, seeded synthetic data: spot a
geometric random walk with Student-t(3) shocks (annual vol 50-100 %), perpetual = spot x (1 +
basis), basis an Ornstein-Uhlenbeck process (mean 3 bp, sd 0.2 %, half-life 2 h), one funding
rate per asset every 480 bars ~ N(1e-4, 3e-4). Capital 1e6, 80 % in equal-weight spot (4 bp fee),
a short of 1 x each holding's value at 5x, flat maintenance 0.5 %, 4 bp taker fee, re-sized when
it drifts more than 0.2 % (scenario A) or 5 % (scenario B).

Prints, for each scenario: the engine's asset-bar steps/s (median of --runs runs; compile time
measured apart, in a fresh process with an empty numba cache), the read-once floor (np.sum and a
numba loop over the same arrays), engine/floor, the process's peak RSS during the runs (the
peak is reset after the data is generated) and over its whole life, against the input arrays,
the plain-Python reference on a slice, the same workload in the smallest loop that gives the
engine's trades and equity (`model_floor.py`: what this model costs at least), and in vectorbt.

    .venv/bin/python bench/backtest_bench.py            # everything (several minutes)
    .venv/bin/python bench/backtest_bench.py --no-vbt --runs 3
    .venv/bin/python bench/backtest_bench.py --no-vbt --highs   # also with intrabar liquidation
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import numpy as np
from numba import njit

from model_floor import smallest_loop
from perphedge.backtest import BacktestSpec, Costs, DriftBand, HedgeLeg, MarketArrays, run_backtest
from perphedge.backtest.kernels import read_once
from perphedge.backtest.reference import simulate_reference
from perphedge.instruments import TierTable

N_BARS = 2_103_840
N_ASSETS = 10
FUNDING_EVERY = 480
CAPITAL = 1e6
SPOT_SHARE = 0.8
FEE = 0.0004
LEVERAGE = 5.0
MMR = 0.005
THRESHOLDS = {"A": 0.002, "B": 0.05}
MINUTES_PER_YEAR = 365.25 * 1440
PHI = 0.5 ** (1.0 / 120.0)  # basis autocorrelation per bar: half-life 2 h of one-minute bars
BASIS_SD = 0.002 * np.sqrt(1.0 - PHI * PHI)  # innovations giving a stationary sd of 0.2 %


@njit(cache=True)
def _ou_in_place(shocks, phi, mean):  # type: ignore[no-untyped-def]
    """Turn N(0, sd) shocks into an Ornstein-Uhlenbeck path around `mean`, in place."""
    x = mean
    for t in range(shocks.size):
        x = mean + phi * (x - mean) + shocks[t]
        shocks[t] = x


def _chunked(draw: Callable[[int], np.ndarray], n: int, chunk: int = 1 << 18) -> np.ndarray:
    """`n` random draws made `chunk` at a time (the generators' temporaries stay small)."""
    out = np.empty(n)
    for start in range(0, n, chunk):
        out[start : start + chunk] = draw(min(chunk, n - start))
    return out


def make_data(seed: int, n_bars: int = N_BARS, n_assets: int = N_ASSETS) -> MarketArrays:
    """The seeded synthetic workload, generated column by column and in place, so that the
    process's peak memory is the arrays themselves plus two columns."""
    rng = np.random.default_rng(seed)
    spot = np.empty((n_bars, n_assets))
    perp = np.empty((n_bars, n_assets))
    for k in range(n_assets):
        sd = rng.uniform(0.5, 1.0) / np.sqrt(MINUTES_PER_YEAR) / np.sqrt(3.0)  # t(3) var = 3
        column = _chunked(lambda n: rng.standard_t(3, n), n_bars)
        column *= sd
        column[0] = 0.0
        np.cumsum(column, out=column)
        np.exp(column, out=column)
        column *= rng.uniform(10.0, 50_000.0)
        spot[:, k] = column
        basis = _chunked(lambda n: rng.normal(0.0, BASIS_SD, n), n_bars)
        _ou_in_place(basis, PHI, 0.0003)
        basis += 1.0
        np.multiply(column, basis, out=column)
        perp[:, k] = column
    bars = np.arange(FUNDING_EVERY, n_bars, FUNDING_EVERY, dtype=np.int64)
    ev_bar = np.repeat(bars, n_assets)
    ev_col = np.tile(np.arange(n_assets, dtype=np.int64), bars.size)
    ev_rate = rng.normal(1e-4, 3e-4, ev_bar.size)
    times = np.arange(n_bars, dtype=np.int64)
    times *= 60_000
    times += 1_577_836_800_000
    names = tuple(f"A{k}" for k in range(n_assets))
    return MarketArrays(times, spot, perp, perp, ev_bar, ev_col, ev_rate, names, names)


def with_highs(data: MarketArrays, seed: int) -> MarketArrays:
    """The same data plus a mark high per bar: max(previous close, close) x (1 + |t(3) shock| x
    a minute's volatility), from its own generator (the other arrays stay as without highs)."""
    rng = np.random.default_rng(seed + 1)
    high = np.empty_like(data.perp)
    sd = 0.75 / np.sqrt(MINUTES_PER_YEAR) / np.sqrt(3.0)
    for k in range(high.shape[1]):
        column = _chunked(lambda n: rng.standard_t(3, n), data.n_bars)
        np.abs(column, out=column)
        column *= sd
        column += 1.0
        perp = data.perp[:, k]
        column[1:] *= np.maximum(perp[1:], perp[:-1])
        column[0] *= perp[0]
        high[:, k] = column
    return dataclasses.replace(data, mark_high=high)


def holdings(data: MarketArrays) -> tuple[np.ndarray, float]:
    """Coins bought with 80 % of the capital, equal weight, and the cash left after the 4 bp fee."""
    spent = CAPITAL * SPOT_SHARE
    qty = spent / data.spot.shape[1] / data.spot[0]
    return qty, CAPITAL - spent * (1.0 + FEE)


def make_spec(data: MarketArrays, threshold: float) -> BacktestSpec:
    qty, cash = holdings(data)
    legs = tuple(HedgeLeg(float(q), k, k, tiers=TierTable.flat(MMR)) for k, q in enumerate(qty))
    costs = Costs(maker_fee=0.0, taker_fee=FEE, slippage_bp=0.0, liquidation_fee=0.0)
    return BacktestSpec(legs, DriftBand(1.0, threshold), cash, LEVERAGE, costs)


def median_time(fn: Callable[[], object], runs: int) -> tuple[float, float]:
    """Median wall-clock and median CPU (thread) seconds of `runs` calls.

    The CPU figure is what the call costs when the shared machine's other load is set aside.
    """
    wall, cpu = [], []
    for _ in range(runs):
        start, start_cpu = time.perf_counter(), time.thread_time()
        fn()
        wall.append(time.perf_counter() - start)
        cpu.append(time.thread_time() - start_cpu)
    return statistics.median(wall), statistics.median(cpu)


def maxrss_bytes() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def reset_peak_rss() -> None:
    """Start the process's peak RSS (VmHWM) again from its current RSS (Linux >= 4.0), so the
    peak read next covers what came after (the runs), not the data generation before them."""
    Path("/proc/self/clear_refs").write_text("5")


def peak_rss_bytes() -> int:
    """The process's peak RSS since the last `reset_peak_rss` (VmHWM)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) * 1024
    raise SystemExit("no VmHWM in /proc/self/status")


def compile_probe() -> None:
    """Child process: time the first run on a tiny input (compiles unless the cache is warm)."""
    start = time.perf_counter()
    data = make_data(1, n_bars=2_000, n_assets=2)
    gen = time.perf_counter() - start
    start = time.perf_counter()
    run_backtest(make_spec(data, 0.002), data)
    print(json.dumps({"first_call_s": time.perf_counter() - start, "data_s": gen}))


def measure_compile() -> dict[str, float]:
    with tempfile.TemporaryDirectory() as cache:
        env = dict(os.environ, NUMBA_CACHE_DIR=cache)
        out = subprocess.run(
            [sys.executable, __file__, "--compile-probe"],
            check=False,
            env=env,
            capture_output=True,
            text=True,
        )
    if out.returncode != 0:
        raise SystemExit(out.stderr)
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def floor_rates(data: MarketArrays, runs: int) -> dict[str, float]:
    steps = data.spot.size
    read_once(data.spot[:10], data.perp[:10])  # compile
    t_np, c_np = median_time(lambda: (np.sum(data.spot), np.sum(data.perp)), runs)
    t_nb, c_nb = median_time(lambda: read_once(data.spot, data.perp), runs)
    return {
        "np_sum_steps_per_s": steps / t_np,
        "numba_read_steps_per_s": steps / t_nb,
        "np_sum_cpu_steps_per_s": steps / c_np,
        "numba_read_cpu_steps_per_s": steps / c_nb,
    }


def engine_figures(data: MarketArrays, name: str, runs: int) -> dict[str, float]:
    spec = make_spec(data, THRESHOLDS[name[0]])
    small = slice_data(data, 5_000)
    run_backtest(make_spec(small, THRESHOLDS[name[0]]), small)  # compiled or loaded from cache
    rss_before = maxrss_bytes()
    reset_peak_rss()
    tracemalloc.start()
    result = run_backtest(spec, data)
    traced_peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    figures = {
        "trades": result.trades,
        "liquidations": result.liquidations,
        "final_equity": float(result.equity_usd[-1]),
        "funding_pnl": result.funding_pnl,
    }
    del result  # one result alive at a time, as in a program that runs one backtest
    seconds, cpu = median_time(lambda: run_backtest(spec, data), runs)
    return {
        **figures,
        "engine_s": seconds,
        "engine_steps_per_s": data.spot.size / seconds,
        "engine_cpu_steps_per_s": data.spot.size / cpu,
        "run_allocations_bytes": traced_peak,
        "maxrss_before_run_bytes": rss_before,
        "maxrss_after_runs_bytes": maxrss_bytes(),
        "peak_rss_runs_bytes": peak_rss_bytes(),
        "input_bytes": sum(
            a.nbytes for a in (data.spot, data.perp, data.mark_high) if a is not None
        ),
    }


def model_floor_figures(data: MarketArrays, name: str, runs: int) -> dict[str, float]:
    """The workload in `model_floor.smallest_loop`: its speed, trades and final equity."""
    qty, cash = holdings(data)
    equity = np.empty(data.n_bars)
    events = (data.funding_bar, data.funding_col, data.rate_per_interval)
    cfg = (qty, cash, LEVERAGE, THRESHOLDS[name], FEE, MMR, equity)
    trades = smallest_loop(data.spot, data.perp, *events, *cfg)
    seconds, cpu = median_time(lambda: smallest_loop(data.spot, data.perp, *events, *cfg), runs)
    return {
        "trades": trades,
        "final_equity": float(equity[-1]),
        "steps_per_s": data.spot.size / seconds,
        "cpu_steps_per_s": data.spot.size / cpu,
    }


def reference_figures(data: MarketArrays, n_bars: int) -> dict[str, float]:
    part = slice_data(data, n_bars)
    spec = make_spec(part, THRESHOLDS["A"])
    start = time.perf_counter()
    ref = simulate_reference(spec, part)
    seconds = time.perf_counter() - start
    fast = run_backtest(spec, part).equity_usd
    gap = float(np.max(np.abs(fast - ref["equity"]) / np.abs(ref["equity"])))
    return {"bars": n_bars, "reference_steps_per_s": part.spot.size / seconds, "max_rel_gap": gap}


def slice_data(data: MarketArrays, n_bars: int) -> MarketArrays:
    keep = data.funding_bar < n_bars
    spot = np.ascontiguousarray(data.spot[:n_bars])
    perp = np.ascontiguousarray(data.perp[:n_bars])
    return MarketArrays(
        data.times_ms[:n_bars], spot, perp, perp, data.funding_bar[keep], data.funding_col[keep],
        data.rate_per_interval[keep], data.spot_names, data.perp_names,
    )  # fmt: skip


def vbt_probe(seed: int, n_bars: int, runs: int) -> None:
    """Child process: the workload (scenario A) in vectorbt; prints times, memory, equity gap."""
    from vbt_workload import run_vbt

    data = slice_data(make_data(seed), n_bars) if n_bars < N_BARS else make_data(seed)
    qty, cash = holdings(data)
    events = (data.funding_bar, data.funding_col, data.rate_per_interval)
    cfg = (1.0, LEVERAGE, MMR, THRESHOLDS["A"], FEE)
    small = slice_data(data, 5_000)
    run_vbt(small.spot, small.perp, qty, cash, (small.funding_bar, small.funding_col,
            small.rate_per_interval), cfg, 50_000)  # fmt: skip
    rss_before = maxrss_bytes()
    times, equity = [], np.empty(0)
    for _ in range(runs):
        start = time.perf_counter()
        equity = run_vbt(data.spot, data.perp, qty, cash, events, cfg, 2_000_000)
        times.append(time.perf_counter() - start)
    ours = run_backtest(make_spec(data, THRESHOLDS["A"]), data).equity_usd
    print(json.dumps({
        "bars": data.n_bars, "vbt_s": statistics.median(times),
        "vbt_steps_per_s": data.spot.size / statistics.median(times),
        "input_bytes": data.spot.nbytes + data.perp.nbytes,
        "maxrss_before_bytes": rss_before, "maxrss_after_bytes": maxrss_bytes(),
        "max_rel_gap_to_engine": float(np.max(np.abs(equity - ours) / np.abs(ours))),
    }))  # fmt: skip


def measure_vbt(seed: int, n_bars: int, runs: int) -> dict[str, float]:
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).parent))
    args = [sys.executable, __file__, "--vbt-probe", "--seed", str(seed), "--runs", str(runs)]
    out = subprocess.run(
        [*args, "--vbt-bars", str(n_bars)], check=False, env=env, capture_output=True, text=True
    )
    if out.returncode != 0:
        return {"error": out.stderr.strip().splitlines()[-1] if out.stderr else "failed"}  # type: ignore[dict-item]
    return dict(json.loads(out.stdout.strip().splitlines()[-1]))


def _mb(n: float) -> str:
    return f"{n / 1e6:,.0f} MB"


def report(figs: dict[str, dict[str, float]], input_bytes: int) -> None:
    load = figs["load"]
    print(f"load average (1, 5, 15 min) before {load['before_1m']:.2f}, "
          f"{load['before_5m']:.2f}, {load['before_15m']:.2f}; after {load['after_1m']:.2f}, "
          f"{load['after_5m']:.2f}, {load['after_15m']:.2f} on {os.cpu_count()} CPUs "
          "(a load above the CPU count slows every figure)")  # fmt: skip
    fl = figs["floor"]
    floor = max(fl["np_sum_steps_per_s"], fl["numba_read_steps_per_s"])
    floor_cpu = max(fl["np_sum_cpu_steps_per_s"], fl["numba_read_cpu_steps_per_s"])
    c = figs["compile"]
    print(f"input arrays (spot + perp): {_mb(input_bytes)}; T={N_BARS:,} K={N_ASSETS}")
    print(f"compile (cold cache, first call on a tiny input): {c['first_call_s']:.2f} s")
    print(f"read-once floor: np.sum {figs['floor']['np_sum_steps_per_s'] / 1e6:,.0f} M steps/s, "
          f"numba loop {figs['floor']['numba_read_steps_per_s'] / 1e6:,.0f} M steps/s")  # fmt: skip
    for name in (key for key in figs if key[0] in THRESHOLDS and "smallest" not in key):
        f = figs[name]
        print(
            f"scenario {name}: engine {f['engine_steps_per_s'] / 1e6:,.0f} M asset-bar steps/s "
            f"({f['engine_s']:.3f} s median), {floor / f['engine_steps_per_s']:.2f}x the floor; "
            f"CPU time: {f['engine_cpu_steps_per_s'] / 1e6:,.0f} M/s, "
            f"{floor_cpu / f['engine_cpu_steps_per_s']:.2f}x the floor's; "
            f"trades {f['trades']:,}, liquidations {f['liquidations']}, "
            f"final equity {f['final_equity']:,.0f}, funding {f['funding_pnl']:,.0f}; "
            f"peak RSS during the runs {_mb(f['peak_rss_runs_bytes'])} = "
            f"{f['peak_rss_runs_bytes'] / f['input_bytes']:.2f}x inputs (the process: "
            f"interpreter, numba, inputs, run allocations {_mb(f['run_allocations_bytes'])}); "
            f"peak RSS with the data generation {_mb(f['maxrss_after_runs_bytes'])} = "
            f"{f['maxrss_after_runs_bytes'] / f['input_bytes']:.2f}x"
        )
        if f"{name} smallest loop" in figs:
            lean = figs[f"{name} smallest loop"]
            print(
                f"  the smallest loop of this model (bench/model_floor.py): "
                f"{floor / lean['steps_per_s']:.2f}x the floor, CPU time "
                f"{floor_cpu / lean['cpu_steps_per_s']:.2f}x; trades {lean['trades']:,}, "
                f"final equity {lean['final_equity']:,.0f}; the engine is "
                f"{lean['cpu_steps_per_s'] / f['engine_cpu_steps_per_s']:.2f}x its CPU time"
            )
    r = figs["reference"]
    print(f"reference (plain Python, first {r['bars']:,} bars): "
          f"{r['reference_steps_per_s'] / 1e6:.2f} M steps/s; max rel gap to engine "
          f"{r['max_rel_gap']:.1e}")  # fmt: skip
    if "vbt" in figs:
        print(f"vectorbt: {json.dumps(figs['vbt'])}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)  # ~168k re-sizes, 2 liquidations in A
    parser.add_argument("--ref-bars", type=int, default=50_000)
    parser.add_argument("--vbt-bars", type=int, default=N_BARS)
    parser.add_argument("--no-vbt", action="store_true")
    parser.add_argument("--highs", action="store_true", help="also run with mark highs")
    parser.add_argument("--compile-probe", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--vbt-probe", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.compile_probe:
        return compile_probe()
    if args.vbt_probe:
        return vbt_probe(args.seed, args.vbt_bars, args.runs)
    before = os.getloadavg()
    figs: dict[str, dict[str, float]] = {"compile": measure_compile()}
    start = time.perf_counter()
    data = make_data(args.seed)
    print(f"data generated in {time.perf_counter() - start:.1f} s", flush=True)
    figs["floor"] = floor_rates(data, args.runs)
    for name in THRESHOLDS:
        figs[name] = engine_figures(data, name, args.runs)
        figs[f"{name} smallest loop"] = model_floor_figures(data, name, args.runs)
    if args.highs:  # the same workload with intrabar liquidation (one more T x K array)
        data = with_highs(data, args.seed)
        for name in THRESHOLDS:
            figs[f"{name} with mark highs"] = engine_figures(data, name, args.runs)
    figs["reference"] = reference_figures(data, args.ref_bars)
    input_bytes = data.spot.nbytes + data.perp.nbytes
    del data
    if not args.no_vbt:
        figs["vbt"] = measure_vbt(args.seed, args.vbt_bars, min(args.runs, 3))
    after = os.getloadavg()
    figs["load"] = {f"{when}_{span}": value for when, loads in (("before", before), ("after", after))
                    for span, value in zip(("1m", "5m", "15m"), loads, strict=True)}  # fmt: skip
    report(figs, input_bytes)
    print(json.dumps(figs))


if __name__ == "__main__":
    main()
