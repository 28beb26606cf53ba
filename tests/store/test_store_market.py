"""The market-data store: bundled sample, read API, upserts, errors, locking."""

from __future__ import annotations

import csv
import subprocess
import sys
import time
from collections import defaultdict
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from perphedge.errors import DataError, InputError
from perphedge.store.market import MarketStore, interval_ms, sample_dir

BTC_PERP = "BTC/USDT:USDT"
DAY_MS = 86_400_000


def _ms(text: str) -> int:
    return int(datetime.fromisoformat(text).replace(tzinfo=UTC).timestamp() * 1000)


@pytest.fixture
def sample_store(tmp_path: Path) -> MarketStore:
    """A store whose file does not exist yet: reads come from the bundled sample."""
    return MarketStore(tmp_path / "market.duckdb")


def test_binance_btc_funding_equals_the_shared_csv_row_for_row(
    sample_store: MarketStore, shared_data: Path
) -> None:
    with (shared_data / "funding" / "binance_btcusdt_funding.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    series = sample_store.funding("binance", BTC_PERP)
    assert len(series) == len(rows) == 7452
    # the store floors funding times to the minute (Binance stamps carry ms jitter)
    expected_ts = [
        int(datetime.fromisoformat(r["fundingTime"]).timestamp()) // 60 * 60_000 for r in rows
    ]
    assert series.ts_ms.tolist() == expected_ts
    assert series.rate.tolist() == [float(r["fundingRate"]) for r in rows]
    marks = [float(r["markPrice"]) if r["markPrice"] else np.nan for r in rows]
    np.testing.assert_array_equal(series.mark, np.asarray(marks))
    assert int(np.isfinite(series.mark).sum()) == 2916  # PROVENANCE: 2,916 rows carry markPrice
    assert set(series.interval_hours.tolist()) == {8.0}
    assert series.typical_interval_hours == 8.0


def test_by_year_apr_from_the_store_matches_a_plain_csv_computation(
    sample_store: MarketStore, shared_data: Path
) -> None:
    by_year: dict[int, list[float]] = defaultdict(list)
    with (shared_data / "funding" / "binance_btcusdt_funding.csv").open() as fh:
        for r in csv.DictReader(fh):
            by_year[int(r["fundingTime"][:4])].append(float(r["fundingRate"]))
    series = sample_store.funding(
        "binance", BTC_PERP, since_ms=_ms("2021-01-01"), until_ms=_ms("2022-01-01")
    )
    # 2021 has 365 days x 3 settlements = 1095 rows; APR = mean rate per 8h x 3 x 365
    assert len(series) == 1095
    apr_2021 = float(series.rate.mean()) * 3 * 365
    assert apr_2021 == pytest.approx(sum(by_year[2021]) / len(by_year[2021]) * 3 * 365, rel=1e-12)
    assert apr_2021 == pytest.approx(0.306, abs=5e-4)  # PROVENANCE: 2021 30.6 %


def test_range_is_half_open(sample_store: MarketStore) -> None:
    t0 = _ms("2022-11-09 08:00")
    series = sample_store.funding("binance", BTC_PERP, since_ms=t0, until_ms=t0 + 16 * 3_600_000)
    assert series.ts_ms.tolist() == [t0, t0 + 8 * 3_600_000]  # 08:00 and 16:00, not 00:00 next


def test_mark_8h_candle_aggregates_the_hourly_file(
    sample_store: MarketStore, shared_data: Path
) -> None:
    start = _ms("2022-06-13 08:00")
    with (shared_data / "prices" / "binance_usdm_mark_btcusdt_1h.csv").open() as fh:
        hours = [
            r
            for r in csv.DictReader(fh)
            if start <= _ms(r["open_time_utc"].rstrip("Z")) < start + 8 * 3_600_000
        ]
    assert len(hours) == 8
    bar = sample_store.prices("binance", BTC_PERP, "mark", "8h", start, start + 1)
    # open of the first hour, max of highs, min of lows, close of the last hour
    assert bar.open.tolist() == [float(hours[0]["open"])]
    assert bar.high.tolist() == [max(float(h["high"]) for h in hours)]
    assert bar.low.tolist() == [min(float(h["low"]) for h in hours)]
    assert bar.close.tolist() == [float(hours[-1]["close"])]


def test_daily_spot_and_latest_price(sample_store: MarketStore) -> None:
    spot = sample_store.prices("binance", "BTC/USDT", "spot", "1d")
    assert len(spot) == 3191  # PROVENANCE: BTC 2017-08-17 -> 2026-05-20, 3,191 rows
    assert np.all(np.diff(spot.ts_ms) > 0)
    # the newest CSV line: 1779235200000,2026-05-20,BTCUSDT,76834.36,77853.04,76516.74,77552.23
    assert (spot.ts_ms[-1], spot.close[-1]) == (1779235200000, 77552.23)
    ts, price = sample_store.latest_price("binance", "BTC/USDT", "spot")
    # the 8h file runs to the 2026-06-29 00:00 candle, which closes 8 h later
    assert ts == _ms("2026-06-29 08:00")
    last_8h = sample_store.prices("binance", "BTC/USDT", "spot", "8h")
    assert price == last_8h.close[-1]


def test_available_lists_every_series(sample_store: MarketStore) -> None:
    covs = {(c.exchange, c.symbol, c.dataset): c for c in sample_store.available()}
    btc = covs[("binance", BTC_PERP, "funding")]
    assert (btc.rows, btc.first_ts_ms) == (7452, _ms("2019-09-10 08:00"))
    assert covs[("bybit", BTC_PERP, "funding")].rows == 6860
    assert ("okx", BTC_PERP, "funding") in covs
    assert covs[("dydx", "BTC/USD:USD", "funding")].rows == 17520
    for key in [("binance", "ETH/USDT", "spot:1d"), ("binance", "ETH/USDT:USDT", "mark:1d")]:
        assert key in covs
    assert not sample_store.exists  # reading never creates the file


def test_hourly_venue_keeps_its_interval(sample_store: MarketStore) -> None:
    hl = sample_store.funding("hyperliquid", "SOL/USDC:USDC")
    assert set(hl.interval_hours.tolist()) == {1.0, 8.0}
    assert hl.typical_interval_hours == 1.0
    dydx = sample_store.funding("dydx", "ETH/USD:USD")
    assert set(dydx.interval_hours.tolist()) == {1.0}


@pytest.mark.parametrize(
    ("exchange", "symbol", "needle"),
    [
        ("binance", "XRP/USDT:USDT", "symbols stored for binance"),
        ("nosuchx", BTC_PERP, "exchanges stored"),
        ("binance", "BTC/USDT", "it has spot:1d, spot:8h"),
    ],
)
def test_missing_series_is_a_one_line_data_error(
    sample_store: MarketStore, exchange: str, symbol: str, needle: str
) -> None:
    with pytest.raises(DataError) as info:
        sample_store.funding(exchange, symbol)
    assert needle in str(info.value)
    assert "\n" not in str(info.value)


def test_empty_range_names_what_is_held(sample_store: MarketStore) -> None:
    with pytest.raises(DataError, match=r"between 2030-01-01 00:00 and open end .*2019-09-10"):
        sample_store.funding("binance", BTC_PERP, since_ms=_ms("2030-01-01"))


def test_bad_arguments_are_input_errors(sample_store: MarketStore) -> None:
    with pytest.raises(InputError, match="kind='last'"):
        sample_store.prices("binance", "BTC/USDT", kind="last")
    with pytest.raises(InputError, match="interval='daily'"):
        sample_store.prices("binance", "BTC/USDT", interval="daily")
    with pytest.raises(InputError, match="until=5"):
        sample_store.funding("binance", BTC_PERP, since_ms=10, until_ms=5)
    assert interval_ms("8h") == 8 * 3_600_000
    assert interval_ms("1d") == DAY_MS


def _funding_table(ts: list[int], rates: list[float], marks: list[float | None]) -> pa.Table:
    n = len(ts)
    return pa.table(
        {
            "exchange": ["binance"] * n,
            "symbol": [BTC_PERP] * n,
            "ts_ms": pa.array(ts, pa.int64()),
            "rate": rates,
            "interval_hours": [8.0] * n,
            "mark": pa.array(marks, pa.float64()),
        }
    )


def test_first_write_seeds_then_upserts_are_idempotent(tmp_path: Path) -> None:
    store = MarketStore(tmp_path / "m.duckdb")
    before = len(store.funding("binance", BTC_PERP))
    last = int(store.funding("binance", BTC_PERP).ts_ms[-1])
    eight_h = 8 * 3_600_000
    new = _funding_table([last + eight_h, last + 2 * eight_h], [0.0001, -0.0002], [61000.0, None])
    assert store.upsert_funding(new) == 2
    assert store.exists
    assert store.upsert_funding(new) == 0  # same keys again: nothing added
    series = store.funding("binance", BTC_PERP)
    assert len(series) == before + 2
    assert series.rate[-2:].tolist() == [0.0001, -0.0002]
    # a NULL mark does not erase a known one
    assert store.upsert_funding(_funding_table([last + eight_h], [0.0001], [None])) == 0
    assert store.funding("binance", BTC_PERP).mark[-2] == 61000.0
    assert store.last_ts_ms("binance", BTC_PERP, "funding") == last + 2 * eight_h


def test_failed_write_leaves_store_intact(tmp_path: Path) -> None:
    store = MarketStore(tmp_path / "m.duckdb")
    store.upsert_funding(_funding_table([1], [0.0001], [None]))
    rows_before = sum(c.rows for c in store.available())
    with pytest.raises(RuntimeError), store.writing() as con:
        con.execute("DELETE FROM funding")
        raise RuntimeError("crash half way")
    assert sum(c.rows for c in store.available()) == rows_before


def test_missing_columns_are_refused(tmp_path: Path) -> None:
    store = MarketStore(tmp_path / "m.duckdb")
    with pytest.raises(DataError, match="columns missing: mark"):
        store.upsert_funding(_funding_table([1], [0.1], [None]).drop(["mark"]))
    assert not store.exists


def test_store_locked_by_another_process_is_a_data_error(tmp_path: Path) -> None:
    store = MarketStore(tmp_path / "m.duckdb")
    store.upsert_funding(_funding_table([1], [0.0001], [None]))
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys; c = duckdb.connect(sys.argv[1]); print('ready', flush=True); "
            "sys.stdin.readline()",
            str(store.path),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        store.lock_wait_s = 0.3
        started = time.monotonic()
        with pytest.raises(DataError, match="in use by another perphedge process"):
            store.funding("binance", BTC_PERP)
        assert 0.3 <= time.monotonic() - started < 5  # waited for the lock, then gave up
        with pytest.raises(DataError, match="store is unchanged"):
            store.upsert_funding(_funding_table([2], [0.0001], [None]))
    finally:
        assert holder.stdin is not None and holder.stdout is not None
        holder.stdin.close()
        holder.wait(timeout=10)
        holder.stdout.close()
    assert store.funding("binance", BTC_PERP, since_ms=0, until_ms=10).ts_ms.tolist() == [1]


def test_corrupt_store_file_is_a_data_error(tmp_path: Path) -> None:
    path = tmp_path / "m.duckdb"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(DataError, match=r"unreadable|cannot open"):
        MarketStore(path).funding("binance", BTC_PERP)
    assert path.read_bytes() == b"this is not a database" * 100


def test_sample_is_small_and_has_provenance() -> None:
    folder = sample_dir()
    total = sum(p.stat().st_size for p in folder.glob("*.parquet"))
    assert total < 4_000_000
    text = (folder / "PROVENANCE.md").read_text()
    for needle in ("twitter-bot-tech/btc-funding-arb", "16e000615f97c3dbae8e08e69853de7a97547e8e"):
        assert needle in text


def test_a_reader_waits_for_a_short_write_lock(tmp_path: Path) -> None:
    store = MarketStore(tmp_path / "m.duckdb")
    store.upsert_funding(_funding_table([1], [0.0001], [None]))
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('ready', flush=True);"
            " time.sleep(0.5); c.close()",
            str(store.path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "ready"
        assert store.funding("binance", BTC_PERP, since_ms=0, until_ms=10).ts_ms.tolist() == [1]
    finally:
        holder.wait(timeout=10)
        assert holder.stdout is not None
        holder.stdout.close()


def test_build_script_reproduces_the_bundled_sample(tmp_path: Path, shared_data: Path) -> None:
    script = Path(__file__).resolve().parents[2] / "scripts" / "build_sample.py"
    subprocess.run(
        [sys.executable, str(script), "--shared", str(shared_data), "--out", str(tmp_path)],
        check=True,
        capture_output=True,
    )
    for name in ("funding", "prices"):
        rebuilt = pq.read_table(tmp_path / f"{name}.parquet")
        bundled = pq.read_table(sample_dir() / f"{name}.parquet")
        assert rebuilt.equals(bundled), name
