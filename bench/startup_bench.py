"""Start-up wall time of the CLI, beside `python -c pass` (the interpreter's own start).

    python bench/startup_bench.py [--runs 7]

Targets on a 2-core machine: `perphedge --help` < 0.4 s, an offline `plan` < 0.7 s.
Each figure is the median wall time of whole processes (the first, warming run is not counted).
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

EXAMPLE = Path(__file__).resolve().parents[1] / "src/perphedge/data/examples/portfolio.toml"
CLI = [sys.executable, "-m", "perphedge"]
CASES = {
    "python -c pass": [sys.executable, "-c", "pass"],
    "perphedge --help": [*CLI, "--help"],
    "perphedge plan (offline)": [*CLI, "plan", str(EXAMPLE)],
    "perphedge liquidation": [
        *CLI, "liquidation", "--side", "short", "--qty", "1", "--entry", "60000",
        "--leverage", "5", "--mmr", "0.004",
    ],
    "perphedge exchanges (ccxt)": [*CLI, "exchanges"],
}  # fmt: skip
TARGETS_S = {"perphedge --help": 0.4, "perphedge plan (offline)": 0.7}


def wall_s(command: list[str], runs: int, env: dict[str, str]) -> list[float]:
    times = []
    for _ in range(runs + 1):
        start = time.perf_counter()
        subprocess.run(
            command, check=False, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        times.append(time.perf_counter() - start)
    return times[1:]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as home:
        env = {**os.environ, "PERPHEDGE_HOME": home}
        print(f"{'command':<28} {'median s':>9} {'min s':>7} {'max s':>7}  target")
        for name, command in CASES.items():
            times = wall_s(command, args.runs, env)
            target = f"< {TARGETS_S[name]:g} s" if name in TARGETS_S else ""
            print(
                f"{name:<28} {statistics.median(times):>9.3f} {min(times):>7.3f} "
                f"{max(times):>7.3f}  {target}"
            )


if __name__ == "__main__":
    main()
