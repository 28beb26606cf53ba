"""Shared test fixtures: run the CLI in-process, locate the shared real data, the fake Binance."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

from perphedge.cli.app import main
from perphedge.cli.wiring import Adapters
from perphedge.report import render
from tests.fakes.binance_usdm import FakeBinance

settings.register_profile(
    "default", max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "default"))

SHARED_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data"


@dataclass(frozen=True)
class CliResult:
    code: int
    out: str
    err: str


@pytest.fixture(autouse=True)
def _isolated_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No test reads or writes the user's real store: PERPHEDGE_HOME points at an empty temp dir,
    so the market store is the bundled sample unless a test writes to it."""
    monkeypatch.setenv("PERPHEDGE_HOME", str(tmp_path_factory.mktemp("perphedge_home")))


@pytest.fixture
def run_cli(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Callable[..., CliResult]:
    """Run `perphedge ARGS...` in-process with PERPHEDGE_HOME in a temp dir; returns code/out/err.

    `adapters=Adapters(...)` runs the commands on fakes of the ports instead of the real ones."""
    monkeypatch.setenv("PERPHEDGE_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("COLUMNS", "200")
    # the same table width whatever the terminal (or xdist worker) the tests run in
    monkeypatch.setattr(render.console, "width", 200)
    monkeypatch.setattr(render.err_console, "width", 200)

    def run(*args: str, adapters: Adapters | None = None) -> CliResult:
        capsys.readouterr()
        try:
            main(list(args), adapters)
            code = 0
        except SystemExit as done:
            code = int(done.code or 0)
        captured = capsys.readouterr()
        return CliResult(code, captured.out, captured.err)

    return run


@pytest.fixture
def shared_data() -> Path:
    """The shared real-data folder beside the checkout (../shared/data)."""
    if not SHARED_DATA.is_dir():
        pytest.fail(f"shared data not found at {SHARED_DATA}")
    return SHARED_DATA


@pytest.fixture
def fake(monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeBinance]:
    """The fake Binance USD-M API (tests/fakes/binance_usdm.py) on 127.0.0.1 with 20,000 USDT in
    its futures wallet, its API key and secret in the environment as a user's would be. A module
    that needs another account overrides `fake` with a fixture that takes this one and sets its
    state."""
    with FakeBinance() as server:
        server.state.wallet = Decimal(20000)
        monkeypatch.setenv("PERPHEDGE_BINANCE_API_KEY", server.api_key)
        monkeypatch.setenv("PERPHEDGE_BINANCE_SECRET", server.secret)
        yield server
