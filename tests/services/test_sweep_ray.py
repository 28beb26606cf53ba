"""`sweep` on Ray: a private local Ray with 2 CPUs gives the same figures as the local run."""

from __future__ import annotations

import shutil
import tempfile

import pytest
import ray

from perphedge.cluster.ray_runner import RayRunner
from perphedge.config import load_portfolio
from perphedge.dates import parse_day_ms
from perphedge.report.sweep_view import sweep_json
from perphedge.services.sweep import SweepRequest, run_sweep
from perphedge.store.market import MarketStore
from tests.cli.test_cli_sweep import HEDGE
from tests.factories import portfolio_file


@pytest.fixture
def ray_dir():
    # a short path: Ray's unix sockets live under it (the limit is about 100 characters)
    path = tempfile.mkdtemp(prefix="ray", dir="/tmp")
    yield path
    shutil.rmtree(path, ignore_errors=True)


def test_ray_sweep_equals_the_local_sweep(tmp_path, ray_dir):
    portfolio = portfolio_file(tmp_path, [{"asset": "BTC", "quantity": 1}], "btc.toml", **HEDGE)
    request = SweepRequest(
        "policy=static,band;ratio=0.5,1;band=0.01;leverage=2,5;reserve=0,1000",
        parse_day_ms("--from", "2024-01-01"),
        parse_day_ms("--to", "2024-02-01"),
        jobs=2,
    )
    config, store = load_portfolio(portfolio), MarketStore()
    local = run_sweep(config, request, store)
    ticks: list[int] = []
    on_ray = run_sweep(
        config, request, store, RayRunner(None, 2, ray_dir), lambda n, total: ticks.append(n)
    )
    assert len(local.rows) == 16 and sum(ticks) == 16
    # every figure identical (NaN as null), in the same ranked order
    assert sweep_json(on_ray) == sweep_json(local)
    assert not ray.is_initialized()  # the private Ray is shut down
