"""Sweeps on a Ray cluster: the runner behind `perphedge sweep --executor ray [--address ADDR]`.

Each group's market arrays go into the object store once (`ray.put`; numpy arrays are stored
as zero-copy buffers that every worker on a node maps instead of copying), and the group's
configurations are cut into batches, one Ray task each, that run the same batched kernel as a
local sweep (`backtest.batch.run_batch`) on one CPU. The figures are therefore identical to a
local run. Ships as the optional extra `perphedge[cluster]`.

`address` None starts a private Ray on this machine (no dashboard) and stops it afterwards; an
address ("auto", "HOST:6379" or "ray://HOST:10001") joins a running cluster and leaves it up.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from perphedge.backtest import BacktestSpec, MarketArrays
from perphedge.backtest.batch import run_batch
from perphedge.errors import InputError
from perphedge.services.backtest import Summary
from perphedge.services.sweep import SweepGroup

BATCHES_PER_CPU = 2  # a few batches per CPU keep every CPU busy to the end, with few tasks


def _ray() -> Any:
    try:
        import ray
    except ImportError:
        raise InputError(
            "--executor", "ray", "install the cluster extra: pip install 'perphedge[cluster]'"
        ) from None
    return ray


def _run_batch(market: MarketArrays, specs: tuple[BacktestSpec, ...]) -> list[Summary]:
    """One Ray task: a batch of configurations on one CPU (the market is the stored object)."""
    return run_batch(specs, market, 1).summaries()


@contextmanager
def connected(address: str | None, num_cpus: int | None, temp_dir: str | None) -> Iterator[Any]:
    """Ray, connected to `address` or started privately (then shut down on exit)."""
    ray = _ray()
    if ray.is_initialized():
        yield ray
        return
    if address is None:
        ray.init(
            num_cpus=num_cpus,
            include_dashboard=False,
            log_to_driver=False,
            configure_logging=False,
            _temp_dir=temp_dir,
        )
    else:
        try:
            ray.init(address=address, log_to_driver=False, configure_logging=False)
        except ConnectionError as bad:
            raise InputError("--address", address, f"no Ray cluster there ({bad})") from None
    try:
        yield ray
    finally:
        ray.shutdown()


def _batches(specs: tuple[BacktestSpec, ...], n: int) -> list[tuple[BacktestSpec, ...]]:
    size = max(1, -(-len(specs) // max(n, 1)))
    return [specs[a : a + size] for a in range(0, len(specs), size)]


@dataclass(frozen=True)
class RayRunner:
    """A `services.sweep.SweepRunner` on Ray. `num_cpus` only for a private local Ray."""

    address: str | None = None
    num_cpus: int | None = None
    temp_dir: str | None = None

    def __call__(
        self, groups: Sequence[SweepGroup], jobs: int, tick: Callable[[int], None]
    ) -> list[list[Summary]]:
        with connected(self.address, self.num_cpus, self.temp_dir) as ray:
            task = ray.remote(num_cpus=1)(_run_batch)
            cpus = int(ray.cluster_resources().get("CPU", 1)) or 1
            pending: dict[Any, tuple[int, int]] = {}
            for g, group in enumerate(groups):
                market = ray.put(group.market)  # once per group, shared by all its batches
                offset = 0
                for batch in _batches(group.specs, cpus * BATCHES_PER_CPU):
                    pending[task.remote(market, batch)] = (g, offset)
                    offset += len(batch)
            out: list[list[Summary]] = [[{}] * len(group.specs) for group in groups]
            while pending:
                done, _ = ray.wait(list(pending), num_returns=1)
                g, offset = pending.pop(done[0])
                summaries = ray.get(done[0])
                out[g][offset : offset + len(summaries)] = summaries
                tick(len(summaries))
            return out


def default_temp_dir() -> str | None:
    """RAY_TMPDIR when set (Ray's own variable), else Ray's default."""
    return os.environ.get("RAY_TMPDIR")
