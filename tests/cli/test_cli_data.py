"""`perphedge data ...` end to end: sync against a 127.0.0.1 server, import/export, errors."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pyarrow.csv as pacsv
import pytest

from perphedge.store.market import MarketStore
from tests.conftest import CliResult
from tests.market_server import BinanceMarketData, MarketServer

BTC = "BTC/USDT:USDT"
T_2023 = 1672531200000  # 2023-01-01 00:00 UTC
T_2024 = 1704067200000  # 2024-01-01
T_2024_07 = 1719792000000  # 2024-07-01
H8 = 8 * 3_600_000

Run = Callable[..., CliResult]


@pytest.fixture
def server() -> Iterator[MarketServer]:
    with MarketServer(BinanceMarketData.from_sample(until_ms=T_2024)) as srv:
        yield srv


@pytest.fixture
def empty_store(tmp_path: Path) -> Path:
    """A store file that starts empty (no bundled sample), so every row comes from the server."""
    path = tmp_path / "empty.duckdb"
    with MarketStore(path, seed=False).writing():
        pass
    return path


def _sync(run: Run, srv: MarketServer, store: Path, until: str, *extra: str) -> CliResult:
    return run(
        "data", "sync", "--exchange", "binance", "--symbols", BTC, "--since", "2023-01-01",
        "--until", until, "--datasets", "funding", "--store", str(store),
        "--base-url", srv.base_url, "--json", *extra,
    )  # fmt: skip


def test_sync_fetches_then_only_new_rows(
    run_cli: Run, server: MarketServer, empty_store: Path
) -> None:
    first = _sync(run_cli, server, empty_store, "2023-12-31")
    assert first.code == 0, first.err
    (series,) = json.loads(first.out)["series"]
    # 2023 has 365 days x 3 settlements
    assert (series["fetched"], series["new_rows"], series["resumed"]) == (1095, 1095, False)
    calls = server.data_requests("/fapi/v1/fundingRate")
    assert len(calls) == 2  # 365 days in 330-day chunks: 330 + 35, one page each

    server.data = BinanceMarketData.from_sample(until_ms=T_2024_07)  # the venue moves on
    server.requests.clear()
    second = _sync(run_cli, server, empty_store, "2024-06-30")
    (series,) = json.loads(second.out)["series"]
    # resumes at the last stored settlement (2023-12-31 16:00), fetched again and replaced;
    # new: 2024-01-01 .. 2024-06-30 = 31+29+31+30+31+30 = 182 days x 3 = 546
    assert series["resumed"] is True
    assert (series["fetched"], series["new_rows"]) == (547, 546)
    (call, *_) = server.data_requests("/fapi/v1/fundingRate")
    assert int(call["startTime"]) == T_2024 - H8

    third = _sync(run_cli, server, empty_store, "2024-06-30")
    (series,) = json.loads(third.out)["series"]
    assert series["new_rows"] == 0
    f = MarketStore(empty_store).funding("binance", BTC)
    assert len(f) == 1095 + 546
    assert np.all(np.diff(f.ts_ms) == H8)  # contiguous, no duplicates


def test_interrupted_sync_keeps_finished_chunks_and_resumes(
    run_cli: Run, server: MarketServer, empty_store: Path, tmp_path: Path
) -> None:
    server.fail_after(1)  # the first chunk arrives, then the venue fails for good
    broken = _sync(run_cli, server, empty_store, "2023-12-31")
    assert broken.code == 4
    assert "binance: fetch funding history failed" in broken.err
    assert len(broken.err.strip().splitlines()) == 1  # one line, no traceback
    kept = MarketStore(empty_store).funding("binance", BTC)
    assert len(kept) == 330 * 3  # the first 330-day chunk was committed

    server.heal()
    server.requests.clear()
    resumed = _sync(run_cli, server, empty_store, "2023-12-31")
    assert resumed.code == 0, resumed.err
    (series,) = json.loads(resumed.out)["series"]
    assert series["resumed"] is True
    assert series["new_rows"] == 1095 - 990
    (call, *_) = server.data_requests("/fapi/v1/fundingRate")
    assert int(call["startTime"]) == int(kept.ts_ms[-1])
    again = MarketStore(empty_store).funding("binance", BTC)
    assert len(again) == 1095
    assert np.all(np.diff(again.ts_ms) == H8)


def test_sync_of_unknown_symbol_and_exchange(
    run_cli: Run, server: MarketServer, empty_store: Path
) -> None:
    bad = run_cli(
        "data", "sync", "--exchange", "binance", "--symbols", "DOGE/USDT:USDT", "--since",
        "2023-01-01", "--until", "2023-01-02", "--store", str(empty_store), "--base-url",
        server.base_url,
    )  # fmt: skip
    assert bad.code == 2
    assert "symbol='DOGE/USDT:USDT'" in bad.err
    nope = run_cli("data", "sync", "--exchange", "kraken", "--symbols", BTC)
    assert nope.code == 2
    assert "exchange='kraken'" in nope.err
    assert "use one of binance" in nope.err


def test_list_and_show_on_the_bundled_sample(run_cli: Run) -> None:
    listed = run_cli("data", "list", "--json")
    assert listed.code == 0
    got = json.loads(listed.out)
    assert got["created"] is False
    series = {(s["exchange"], s["symbol"], s["dataset"]): s["rows"] for s in got["series"]}
    assert series[("binance", BTC, "funding")] == 7452
    shown = run_cli("data", "show", "binance", BTC, "--since", "2020-03-13", "--until",
                    "2020-03-13", "--json")  # fmt: skip
    rows = json.loads(shown.out)
    # PROVENANCE: the rate hit the -0.30 % floor on 2020-03-13 08:00
    assert [r["rate"] for r in rows][1] == -0.003
    assert len(rows) == 3
    missing = run_cli("data", "show", "binance", "BTC/USDT:USDT", "--dataset", "perp:1h")
    assert missing.code == 2
    assert "no perp:1h for binance BTC/USDT:USDT" in missing.err


def test_export_then_import_round_trips_csv_and_parquet(
    run_cli: Run, tmp_path: Path, empty_store: Path
) -> None:
    for suffix in ("csv", "parquet"):
        out = tmp_path / f"btc.{suffix}"
        exported = run_cli("data", "export", str(out), "--exchange", "binance", "--symbol", BTC,
                           "--since", "2022-01-01", "--until", "2022-12-31")  # fmt: skip
        assert exported.code == 0, exported.err
        assert "wrote 1,095 funding rows" in exported.out
        imported = run_cli("data", "import", str(out), "--store", str(empty_store))
        assert imported.code == 0, imported.err
        assert "imported 1,095 funding rows" in imported.out
    sample = MarketStore(tmp_path / "never.duckdb").funding(
        "binance", BTC, since_ms=1640995200000, until_ms=T_2023
    )
    back = MarketStore(empty_store).funding("binance", BTC)
    np.testing.assert_array_equal(back.ts_ms, sample.ts_ms)
    np.testing.assert_array_equal(back.rate, sample.rate)
    assert "(0 new)" in imported.out  # the Parquet import found every row already there

    prices_out = tmp_path / "spot.csv"
    assert run_cli("data", "export", str(prices_out), "--table", "prices", "--kind", "spot",
                   "--interval", "1d", "--symbol", "ETH/USDT").code == 0  # fmt: skip
    table = pacsv.read_csv(prices_out)
    assert table.num_rows == 3191
    assert table.column_names == [
        "exchange", "symbol", "kind", "interval", "ts_ms", "open", "high", "low", "close",
    ]  # fmt: skip


BAD_CSV = """exchange,symbol,ts_ms,rate,interval_hours,mark
binance,BTC/USDT:USDT,1704067200000,0.0001,8,
binance,BTC/USDT:USDT,1704096000,0.0001,8,
binance,BTC/USDT:USDT,1704124800000,0.01,8,
binance,BTC/USDT:USDT,1704124800000,1.5,8,
binance,BTC/USDT,1704153600000,0.0001,8,
binance,BTC/USDT:USDT,1704067200000,0.0002,8,
binance,BTC/USDT:USDT,1704182400000,0.0001,0,
binance,BTC/USDT:USDT,not-a-time,0.0001,8,
"""


def test_import_reports_bad_rows_by_line_and_writes_nothing(
    run_cli: Run, tmp_path: Path, empty_store: Path
) -> None:
    path = tmp_path / "bad.csv"
    path.write_text(BAD_CSV)
    result = run_cli("data", "import", str(path), "--store", str(empty_store))
    assert result.code == 2
    err = " ".join(result.err.split())
    assert "6 bad row(s), nothing imported" in err
    assert "line 3: ts_ms=1704096000 looks like seconds" in err
    assert "line 5: rate=1.5 is not a fraction per interval" in err
    assert "line 6: symbol='BTC/USDT' is spot" in err
    assert "line 7: same key as line 2" in err
    assert "line 8: interval_hours=0.0 must lie in (0, 24]" in err
    assert "(and 1 more)" in err  # line 9, not-a-time
    assert MarketStore(empty_store).available() == []


def test_import_rejects_wrong_columns_and_corrupt_files(
    run_cli: Run, tmp_path: Path, empty_store: Path
) -> None:
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("exchange,symbol,time,rate\nbinance,BTC/USDT:USDT,1,0.0001\n")
    result = run_cli("data", "import", str(wrong), "--store", str(empty_store))
    assert result.code == 2
    assert "missing ts_ms, interval_hours, mark; unexpected time" in result.err
    corrupt = tmp_path / "corrupt.parquet"
    corrupt.write_bytes(b"PAR1 not really")
    result = run_cli("data", "import", str(corrupt), "--store", str(empty_store))
    assert result.code == 2
    assert "is not a readable parquet file" in result.err
    result = run_cli("data", "import", str(tmp_path / "x.json"), "--store", str(empty_store))
    assert result.code == 2


def test_locked_store_is_one_line_exit_2_and_left_intact(
    run_cli: Run, tmp_path: Path, empty_store: Path
) -> None:
    good = tmp_path / "good.csv"
    good.write_text(BAD_CSV.splitlines()[0] + "\n" + BAD_CSV.splitlines()[1] + "\n")
    assert run_cli("data", "import", str(good), "--store", str(empty_store)).code == 0
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('ready', flush=True); "
         "sys.stdin.readline()", str(empty_store)],
        stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        result = run_cli("data", "import", str(good), "--store", str(empty_store))
        assert result.code == 2
        assert "in use by another perphedge process" in result.err
        assert len(result.err.strip().splitlines()) == 1
    finally:
        assert holder.stdin is not None and holder.stdout is not None
        holder.stdin.close()
        holder.wait(timeout=10)
        holder.stdout.close()
    (cov,) = MarketStore(empty_store).available()
    assert cov.rows == 1


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (("data", "show", "binance", BTC, "--dataset", "funding,spot:1d"), "--dataset="),
        (("data", "show", "binance", BTC, "--dataset", "last:1d"), "kind='last'"),
        (("data", "show", "binance", BTC, "--tail", "-1"), "--tail=-1"),
        (("data", "show", "binance", BTC, "--since", "2021-13-01"), "--since='2021-13-01'"),
        (
            ("data", "sync", "--exchange", "binance", "--symbols", "BTC/USDT"),
            "--symbols='BTC/USDT'",
        ),
        (
            ("data", "sync", "--exchange", "okx", "--symbols", BTC, "--datasets", "spot"),
            "--datasets='spot'",
        ),
        (("data", "export", "out.txt"), "file="),
        (("data", "sync", "--exchange", "binance", "--symbols", "BTC/USD:BTC"), "coin-margined"),
        (("data", "export", "o.csv", "--kind", "spot"), "only with --table prices"),
    ],
)
def test_bad_input_is_one_line_exit_2(run_cli: Run, args: tuple[str, ...], needle: str) -> None:
    result = run_cli(*args)
    assert result.code == 2, result.err
    assert needle in result.err
    assert len(result.err.strip().splitlines()) == 1


def test_corrupt_store_file_is_exit_2_and_untouched(run_cli: Run, tmp_path: Path) -> None:
    store = tmp_path / "market.duckdb"
    store.write_bytes(b"garbage" * 500)
    result = run_cli("data", "list", "--store", str(store))
    assert result.code == 2
    assert "market store" in result.err
    assert len(result.err.strip().splitlines()) == 1
    assert store.read_bytes() == b"garbage" * 500
