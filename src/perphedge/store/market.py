"""The local market-data store: one DuckDB file of funding history and price candles.

Read API (what analytics, planner, backtest and live code call)::

    store = MarketStore()                      # $PERPHEDGE_HOME/market.duckdb or the user data dir
    store = MarketStore(path="x.duckdb")       # or an explicit file
    f = store.funding("binance", "BTC/USDT:USDT", since_ms=None, until_ms=None) -> FundingSeries
        f.ts_ms int64, f.rate float64 (per interval; positive = longs pay shorts),
        f.interval_hours float64 (per row), f.mark float64 (NaN where unknown)
    p = store.prices("binance", "BTC/USDT", kind="spot", interval="1d", since_ms=..., until_ms=...)
        -> PriceSeries: ts_ms (candle open), open, high, low, close (float64)
    store.latest_price("binance", "BTC/USDT:USDT", kind="mark") -> (ts_ms, price)
        the last close and the time it applies (candle open + interval), finest interval first
    store.available() -> list[Coverage(exchange, symbol, dataset, first_ts_ms, last_ts_ms, rows)]
        dataset is "funding" or "<kind>:<interval>", e.g. "spot:1d", "mark:8h"

Ranges are half-open: since_ms <= ts_ms < until_ms (either bound may be None). Exchange names are
perphedge venue names ("binance", "bybit", "okx", ...), symbols ccxt unified symbols ("BTC/USDT"
spot, "BTC/USDT:USDT" linear perpetual, "BTC/USD:BTC" inverse). An unknown series or an empty
range raises DataError with one line saying what the store holds instead.

Write API (used by `perphedge data sync|import`): `upsert_funding`, `upsert_prices` insert or
replace rows keyed by (exchange, symbol, ts_ms) / (exchange, symbol, kind, interval, ts_ms) inside
one transaction (all or nothing) and return the number of new keys; `last_ts_ms` tells a sync
where to resume. Keys are unique by construction (see `_upsert`), not by an index, which keeps
the file about the size of the data (~3 MB for the sample instead of ~19 MB).

Storage: until something is written, reads go straight to the bundled real sample
(`perphedge/data/sample/*.parquet`, see its PROVENANCE.md) and no file is created. The first write
creates the DuckDB file and seeds it with the sample. Connections are opened per call and closed
at once, so several readers can share the file; while another process writes (a sync commits
chunk by chunk), a call waits up to `lock_wait_s` (2 s) and then raises DataError, leaving the
file untouched.
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

import duckdb
import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:  # pyarrow loads with the first write or export, not with every read
    import pyarrow as pa

from perphedge.errors import DataError, InputError
from perphedge.ports import Coverage
from perphedge.store.paths import market_store_path
from perphedge.symbols import PRICE_KINDS

DEFAULT_LOCK_WAIT_S = 2.0
LOCK_POLL_S = 0.1
_INTERVAL = re.compile(r"^(\d+)([mhdw])$")
_UNIT_MS = {"m": 60_000, "h": 3_600_000, "d": 86_400_000, "w": 604_800_000}

FUNDING_COLUMNS = ("exchange", "symbol", "ts_ms", "rate", "interval_hours", "mark")
PRICE_COLUMNS = ("exchange", "symbol", "kind", "interval", "ts_ms", "open", "high", "low", "close")

_VALUE_COLUMNS = ("rate", "interval_hours", "mark", "open", "high", "low", "close")

_SCHEMA = """
CREATE TABLE IF NOT EXISTS funding (
    exchange VARCHAR NOT NULL, symbol VARCHAR NOT NULL, ts_ms BIGINT NOT NULL,
    rate DOUBLE NOT NULL, interval_hours DOUBLE NOT NULL, mark DOUBLE);
CREATE TABLE IF NOT EXISTS prices (
    exchange VARCHAR NOT NULL, symbol VARCHAR NOT NULL, kind VARCHAR NOT NULL,
    "interval" VARCHAR NOT NULL, ts_ms BIGINT NOT NULL,
    open DOUBLE NOT NULL, high DOUBLE NOT NULL, low DOUBLE NOT NULL, close DOUBLE NOT NULL);
CREATE TABLE IF NOT EXISTS meta (key VARCHAR PRIMARY KEY, value VARCHAR);
"""

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def interval_ms(interval: str) -> int:
    """Milliseconds in a candle interval such as "1h", "8h", "1d"; InputError otherwise."""
    match = _INTERVAL.match(interval.strip())
    if match is None or int(match.group(1)) <= 0:
        raise InputError("interval", interval, "use a candle interval such as 1h, 8h or 1d")
    return int(match.group(1)) * _UNIT_MS[match.group(2)]


def check_kind(kind: str) -> str:
    """`kind` if it is spot, perp or mark; InputError otherwise."""
    if kind not in PRICE_KINDS:
        raise InputError("kind", kind, f"use one of {', '.join(PRICE_KINDS)}")
    return kind


@dataclass(frozen=True)
class FundingSeries:
    """Funding settlements of one perpetual on one venue, oldest first.

    `rate` is the fraction of notional paid per settlement (positive: longs pay shorts; see
    perphedge.funding for the sign); `interval_hours` is the interval each rate covers;
    `mark` is the mark price at settlement (NaN where unknown).
    """

    exchange: str
    symbol: str
    ts_ms: IntArray
    rate: FloatArray
    interval_hours: FloatArray
    mark: FloatArray

    def __len__(self) -> int:
        return int(self.ts_ms.size)

    @property
    def typical_interval_hours(self) -> float:
        """The most common interval in the series (for venues that changed it, e.g. 8h -> 1h)."""
        values, counts = np.unique(self.interval_hours, return_counts=True)
        return float(values[int(np.argmax(counts))])


@dataclass(frozen=True)
class PriceSeries:
    """OHLC candles of one market, oldest first; `ts_ms` is each candle's open time."""

    exchange: str
    symbol: str
    kind: str
    interval: str
    ts_ms: IntArray
    open: FloatArray
    high: FloatArray
    low: FloatArray
    close: FloatArray

    def __len__(self) -> int:
        return int(self.ts_ms.size)


def sample_dir() -> Path:
    """The bundled real sample (Parquet files and their PROVENANCE.md)."""
    return Path(str(resources.files("perphedge") / "data" / "sample"))


class MarketStore:
    """Market data on disk (see the module docstring for the API)."""

    def __init__(
        self, path: str | Path | None = None, sample: Path | None = None, seed: bool = True
    ) -> None:
        self.path = market_store_path(path)
        self._sample = sample if sample is not None else sample_dir()
        self._seed_with_sample = seed  # False: a new store file starts empty
        self._unwritten_con: duckdb.DuckDBPyConnection | None = None
        self.lock_wait_s = DEFAULT_LOCK_WAIT_S

    # ---------------------------------------------------------------- reads
    def funding(
        self,
        exchange: str,
        symbol: str,
        since_ms: int | None = None,
        until_ms: int | None = None,
    ) -> FundingSeries:
        """Funding settlements of `symbol` on `exchange` in [since_ms, until_ms)."""
        exchange = exchange.strip().lower()
        ts, rate, hours, mark = self._columns(
            "SELECT ts_ms, rate, interval_hours, coalesce(mark, 'NaN'::DOUBLE) FROM funding "
            "WHERE exchange = ? AND symbol = ? AND ts_ms >= ? AND ts_ms < ? ORDER BY ts_ms",
            [exchange, symbol, *_bounds(since_ms, until_ms)],
        )
        if ts.size == 0:
            self._raise_missing(exchange, symbol, "funding", since_ms, until_ms)
        return FundingSeries(
            exchange,
            symbol,
            ts.astype(np.int64),
            rate.astype(np.float64),
            hours.astype(np.float64),
            mark.astype(np.float64),
        )

    def prices(
        self,
        exchange: str,
        symbol: str,
        kind: str = "spot",
        interval: str = "1d",
        since_ms: int | None = None,
        until_ms: int | None = None,
    ) -> PriceSeries:
        """Candles of `symbol` (`kind` spot|perp|mark, `interval` e.g. 1d) in [since, until)."""
        exchange = exchange.strip().lower()
        check_kind(kind)
        interval_ms(interval)
        ts, o, h, lo, c = self._columns(
            "SELECT ts_ms, open, high, low, close FROM prices WHERE exchange = ? AND symbol = ? "
            'AND kind = ? AND "interval" = ? AND ts_ms >= ? AND ts_ms < ? ORDER BY ts_ms',
            [exchange, symbol, kind, interval, *_bounds(since_ms, until_ms)],
        )
        if ts.size == 0:
            self._raise_missing(exchange, symbol, f"{kind}:{interval}", since_ms, until_ms)
        return PriceSeries(
            exchange,
            symbol,
            kind,
            interval,
            ts.astype(np.int64),
            o.astype(np.float64),
            h.astype(np.float64),
            lo.astype(np.float64),
            c.astype(np.float64),
        )

    def latest_price(self, exchange: str, symbol: str, kind: str = "mark") -> tuple[int, float]:
        """(time the price applies, last close) over all stored intervals of this market."""
        exchange = exchange.strip().lower()
        check_kind(kind)
        rows = self._query(
            'SELECT ts_ms, "interval", close FROM prices WHERE exchange = ? AND symbol = ? '
            "AND kind = ?",
            [exchange, symbol, kind],
        )
        if not rows:
            self._raise_missing(exchange, symbol, f"{kind} prices", None, None)
        ts, interval, close = max(rows, key=lambda r: (int(r[0]) + interval_ms(str(r[1])), r[1]))
        return int(ts) + interval_ms(str(interval)), float(close)

    def available(self) -> list[Coverage]:
        """Every stored series with its first and last timestamp and row count."""
        rows = self._query(
            "SELECT exchange, symbol, 'funding', min(ts_ms), max(ts_ms), count(*) FROM funding "
            "GROUP BY ALL UNION ALL "
            "SELECT exchange, symbol, kind || ':' || \"interval\", min(ts_ms), max(ts_ms), "
            "count(*) FROM prices GROUP BY ALL ORDER BY 1, 2, 3",
            [],
        )
        return [
            Coverage(str(e), str(s), str(d), int(a), int(b), int(n)) for e, s, d, a, b, n in rows
        ]

    def select(
        self,
        table: str,
        where: dict[str, str],
        since_ms: int | None = None,
        until_ms: int | None = None,
    ) -> pa.Table:
        """Rows of `table` ("funding" or "prices") matching `where` (column -> value), sorted."""
        columns = FUNDING_COLUMNS if table == "funding" else PRICE_COLUMNS
        if table not in ("funding", "prices") or any(k not in columns for k in where):
            raise InputError("table", table, f"use funding or prices with columns {columns}")
        conds = [f'"{k}" = ?' for k in where] + ["ts_ms >= ?", "ts_ms < ?"]
        params = [*where.values(), *_bounds(since_ms, until_ms)]
        cols = ", ".join(f'"{c}"' for c in columns)
        keys = ", ".join(f'"{c}"' for c in columns if c not in _VALUE_COLUMNS)
        sql = f"SELECT {cols} FROM {table} WHERE {' AND '.join(conds)} ORDER BY {keys}"
        with self._reading() as con:
            try:
                result: pa.Table = con.sql(sql, params=params).to_arrow_table()
            except duckdb.Error as e:
                raise DataError(f"market store {self.path} query failed: {_first_line(e)}") from e
        return result

    def last_ts_ms(self, exchange: str, symbol: str, dataset: str) -> int | None:
        """Newest stored timestamp of a series ("funding" or "<kind>:<interval>"), or None."""
        for cov in self.available():
            if (cov.exchange, cov.symbol, cov.dataset) == (exchange.lower(), symbol, dataset):
                return cov.last_ts_ms
        return None

    @property
    def exists(self) -> bool:
        """True once the store file has been created (by a sync or an import)."""
        return self.path.is_file()

    # ---------------------------------------------------------------- writes
    def upsert_funding(self, table: pa.Table) -> int:
        """Insert or replace funding rows (columns FUNDING_COLUMNS); returns the new-key count.

        A NULL mark never overwrites a known one.
        """
        return self._upsert("funding", table, FUNDING_COLUMNS, {"mark"})

    def upsert_prices(self, table: pa.Table) -> int:
        """Insert or replace candles (columns PRICE_COLUMNS); returns the new-key count."""
        return self._upsert("prices", table, PRICE_COLUMNS, set())

    def _upsert(
        self, name: str, table: pa.Table, columns: Sequence[str], keep_known: set[str]
    ) -> int:
        """Replace rows whose key is in `table`, add the others; one transaction.

        The tables carry no index (an index would multiply the file size several times), so
        uniqueness of the key is kept here: incoming rows are de-duplicated, matching stored
        rows deleted, and the merged rows inserted.
        """
        missing = [c for c in columns if c not in table.column_names]
        if missing:
            raise DataError(f"cannot store {name}: columns missing: {', '.join(missing)}")
        keys = [c for c in columns if c not in _VALUE_COLUMNS]
        on = " AND ".join(f't."{k}" = i."{k}"' for k in keys)
        picked = ", ".join(
            f'coalesce(i."{c}", t."{c}")' if c in keep_known else f'i."{c}"' for c in columns
        )
        key_list = ", ".join(f'"{k}"' for k in keys)
        with self.writing() as con:
            con.register("incoming_raw", table.select(list(columns)))
            before = _count(con, name)
            _run(
                con,
                f"CREATE TEMP TABLE incoming AS SELECT DISTINCT ON ({key_list}) * FROM incoming_raw",
            )
            _run(
                con,
                f"CREATE TEMP TABLE merged AS SELECT {picked} FROM incoming i LEFT JOIN {name} t ON {on}",
            )
            _run(con, f"DELETE FROM {name} t USING incoming i WHERE {on}")
            _run(con, f"INSERT INTO {name} SELECT * FROM merged")
            _run(con, "DROP TABLE incoming")
            _run(con, "DROP TABLE merged")
            con.unregister("incoming_raw")
            return _count(con, name) - before

    @contextmanager
    def writing(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A read-write connection inside one transaction, seeded with the sample if new.

        Commits when the block ends normally; rolls back on any error (nothing half-written).
        """
        self.path.parent.mkdir(parents=True, exist_ok=True)
        con = self._connect(read_only=False)
        try:
            _run(con, "BEGIN TRANSACTION")
            _run(con, _SCHEMA)
            self._seed(con)
            yield con
            _run(con, "COMMIT")
        except BaseException:
            _run(con, "ROLLBACK")
            raise
        finally:
            con.close()

    # ---------------------------------------------------------------- internals
    def _seed(self, con: duckdb.DuckDBPyConnection) -> None:
        if con.execute("SELECT value FROM meta WHERE key = 'seeded'").fetchall():
            return
        if self._seed_with_sample:
            for name in ("funding", "prices"):
                sql = f"INSERT INTO {name} SELECT * FROM read_parquet(?)"
                _run(con, sql, [self._parquet(name)])
        origin = "bundled sample" if self._seed_with_sample else "empty"
        _run(con, "INSERT INTO meta VALUES ('seeded', ?)", [origin])

    def _parquet(self, name: str) -> str:
        path = self._sample / f"{name}.parquet"
        if not path.is_file():
            raise DataError(f"bundled sample file {path} is missing; reinstall perphedge")
        return str(path)

    def _connect(self, read_only: bool) -> duckdb.DuckDBPyConnection:
        """Open the file; while another process holds the write lock, wait up to `lock_wait_s`.

        A sync holds the lock only while it commits a chunk, so a short wait usually suffices.
        """
        deadline = time.monotonic() + self.lock_wait_s
        while True:
            try:
                return duckdb.connect(str(self.path), read_only=read_only)
            except duckdb.IOException as e:
                if "lock" not in str(e).lower():
                    raise DataError(
                        f"cannot open market store {self.path}: {_first_line(e)}"
                    ) from e
                if time.monotonic() >= deadline:
                    raise DataError(
                        f"market store {self.path} is in use by another perphedge process; "
                        "wait for it to finish and run again (the store is unchanged)"
                    ) from e
                time.sleep(LOCK_POLL_S)
            except duckdb.Error as e:
                raise DataError(
                    f"market store {self.path} is unreadable ({_first_line(e)}); "
                    "move it aside and run `perphedge data sync` or `data import` to rebuild it"
                ) from e

    @contextmanager
    def _reading(self) -> Iterator[duckdb.DuckDBPyConnection]:
        # nothing written yet: what the first write would start from (a cursor per read, as a
        # connection must not be shared between threads)
        con = self._connect(read_only=True) if self.exists else self._unwritten().cursor()
        try:
            yield con
        finally:
            con.close()

    def _unwritten(self) -> duckdb.DuckDBPyConnection:
        """One in-memory connection over the bundled sample (or an empty schema), opened once:
        it holds no file and no lock, and reopening it cost every read of a command (the views
        over the Parquet files were made again each time)."""
        if self._unwritten_con is None:
            con = duckdb.connect()
            if not self._seed_with_sample:
                _run(con, _SCHEMA)
            for name in ("funding", "prices") if self._seed_with_sample else ():
                path = self._parquet(name).replace("'", "''")
                _run(con, f"CREATE VIEW {name} AS SELECT * FROM read_parquet('{path}')")
            self._unwritten_con = con
        return self._unwritten_con

    def _query(self, sql: str, params: list[Any]) -> list[tuple[Any, ...]]:
        with self._reading() as con:
            try:
                return con.execute(sql, params).fetchall()
            except duckdb.Error as e:
                raise DataError(f"market store {self.path} query failed: {_first_line(e)}") from e

    def _columns(self, sql: str, params: list[Any]) -> list[np.ndarray[Any, Any]]:
        """The query's result as one numpy array per column (no Python row per value)."""
        with self._reading() as con:
            try:
                got = con.execute(sql, params).fetchnumpy()
            except duckdb.Error as e:
                raise DataError(f"market store {self.path} query failed: {_first_line(e)}") from e
        return [np.asarray(col) for col in got.values()]

    def _raise_missing(
        self, exchange: str, symbol: str, dataset: str, since: int | None, until: int | None
    ) -> None:
        covs = self.available()
        same = [c for c in covs if c.exchange == exchange and c.symbol == symbol]
        match = [c for c in same if _family(c.dataset) == _family(dataset)]
        if match and (since is not None or until is not None):
            held = "; ".join(
                f"{c.dataset} {_day(c.first_ts_ms)} to {_day(c.last_ts_ms)}" for c in match
            )
            raise DataError(
                f"no {dataset} for {exchange} {symbol} between {_day(since)} and {_day(until)} "
                f"(the store has {held}); widen the range or run `perphedge data sync`"
            )
        if same:
            held = ", ".join(sorted({c.dataset for c in same}))
            raise DataError(
                f"no {dataset} for {exchange} {symbol} in the store (it has {held}); "
                "run `perphedge data sync` or `perphedge data import`"
            )
        symbols = sorted({c.symbol for c in covs if c.exchange == exchange})
        hint = (
            f"symbols stored for {exchange}: {', '.join(symbols)}"
            if symbols
            else (f"exchanges stored: {', '.join(sorted({c.exchange for c in covs}))}")
        )
        raise DataError(
            f"no data for {exchange} {symbol} in the store ({hint}); "
            "use a ccxt symbol such as BTC/USDT:USDT or run `perphedge data sync`"
        )


def _bounds(since_ms: int | None, until_ms: int | None) -> tuple[int, int]:
    lo = -(2**62) if since_ms is None else int(since_ms)
    hi = 2**62 if until_ms is None else int(until_ms)
    if lo >= hi:
        raise InputError("until", until_ms, f"give an end after the start ({since_ms})")
    return lo, hi


def _family(dataset: str) -> str:
    """ "mark:8h" and "mark prices" -> "mark"; "funding" -> "funding"."""
    return dataset.replace(":", " ").split()[0]


def _run(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> None:
    """Execute a statement and drain its result (DuckDB wants results consumed)."""
    con.execute(sql, params or []).fetchall()


def _count(con: duckdb.DuckDBPyConnection, name: str) -> int:
    rows = con.execute(f"SELECT count(*) FROM {name}").fetchall()
    return int(rows[0][0])


def _day(ts_ms: int | None) -> str:
    if ts_ms is None:
        return "open end"
    return str(np.datetime64(int(ts_ms), "ms").astype("datetime64[m]")).replace("T", " ")


def _first_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__
