"""Import and export of store tables as CSV or Parquet (`perphedge data import|export`).

Files use the store's tidy columns (see perphedge.store.market):

    funding: exchange, symbol, ts_ms, rate, interval_hours, mark   (mark may be empty)
    prices:  exchange, symbol, kind, interval, ts_ms, open, high, low, close

Import checks every row before anything is written, and writes all rows in one transaction or
none. Checks: required columns present (extra columns are an error naming them); ts_ms is an
integer epoch in milliseconds between 2009 and 2100 (a value in seconds is named as such); rate
is a fraction per interval (|rate| <= 0.05; 0.0001 = 0.01 %, so a percent column is caught);
interval_hours in (0, 24]; prices positive and finite with low <= open, close <= high; kind
spot|perp|mark; a valid interval; no key twice in the file. Bad rows are reported by line
number (CSV: the file's line, header = line 1; Parquet: row number from 1).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq

from perphedge.errors import DataError, InputError
from perphedge.store.market import (
    FUNDING_COLUMNS,
    PRICE_COLUMNS,
    MarketStore,
    interval_ms,
)
from perphedge.symbols import PRICE_KINDS

MIN_TS_MS = 1_230_768_000_000  # 2009-01-01
MAX_TS_MS = 4_102_444_800_000  # 2100-01-01
MAX_ABS_RATE = 0.05
MAX_REPORTED = 5
TABLES = {"funding": FUNDING_COLUMNS, "prices": PRICE_COLUMNS}

Row = dict[str, str]


def file_format(path: Path) -> str:
    """'csv' or 'parquet' from the file name; InputError otherwise."""
    suffix = path.suffix.lower()
    if suffix in (".csv", ".parquet", ".pq"):
        return "csv" if suffix == ".csv" else "parquet"
    raise InputError("file", str(path), "name a .csv or .parquet file")


def require_utf8(path: Path) -> None:
    """InputError naming the line when a CSV file is not UTF-8 text (a garbled symbol must
    never reach the store)."""
    data = path.read_bytes()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError as bad:
        line = data[: bad.start].count(b"\n") + 1
        raise InputError(
            "file",
            str(path),
            f"line {line} is not UTF-8 text (byte 0x{data[bad.start]:02x}): save it as UTF-8",
        ) from None


def read_rows(path: Path) -> tuple[list[str], list[Row], int]:
    """Column names, rows as strings, and the line number of the first row."""
    if not path.is_file():
        raise InputError("file", str(path), "give an existing file")
    try:
        if file_format(path) == "csv":
            require_utf8(path)
            options = pacsv.ConvertOptions(strings_can_be_null=False, auto_dict_encode=False)
            table = pacsv.read_csv(path, convert_options=options)
            first_line = 2
        else:
            table = pq.read_table(path)
            first_line = 1
    except (pa.ArrowInvalid, OSError) as e:
        raise DataError(f"{path} is not a readable {path.suffix[1:]} file: {e}") from e
    columns = list(table.column_names)
    data = table.to_pydict()
    rows = [{c: _text(data[c][i]) for c in columns} for i in range(table.num_rows)]
    return columns, rows, first_line


def _text(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return ""
    return str(value)


def detect_table(columns: Sequence[str]) -> str:
    """'funding' or 'prices' from the header; DataError naming missing/extra columns."""
    best = "prices" if "kind" in columns or "close" in columns else "funding"
    expected = TABLES[best]
    missing = [c for c in expected if c not in columns]
    extra = [c for c in columns if c not in expected]
    if missing or extra:
        parts = []
        if missing:
            parts.append(f"missing {', '.join(missing)}")
        if extra:
            parts.append(f"unexpected {', '.join(extra)}")
        raise DataError(
            f"columns do not match the {best} table ({'; '.join(parts)}); "
            f"expected {', '.join(expected)}"
        )
    return best


def _ts(row: Row) -> int:
    text = row["ts_ms"].strip()
    try:
        value = int(text)
    except ValueError:
        value = int(float(text)) if _is_whole(text) else -1
        if value < 0:
            raise ValueError(f"ts_ms={text!r} is not an integer epoch in milliseconds") from None
    if MIN_TS_MS / 1000 <= value < MAX_TS_MS / 1000:
        raise ValueError(f"ts_ms={value} looks like seconds; give epoch milliseconds")
    if not MIN_TS_MS <= value < MAX_TS_MS:
        raise ValueError(f"ts_ms={value} is outside 2009..2100 in epoch milliseconds")
    return value


def _is_whole(text: str) -> bool:
    try:
        x = float(text)
    except ValueError:
        return False
    return math.isfinite(x) and x == int(x)


def _num(row: Row, name: str, optional: bool = False) -> float | None:
    text = row[name].strip()
    if not text and optional:
        return None
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{name}={text!r} is not a number") from None
    if not math.isfinite(value):
        if optional and math.isnan(value):
            return None
        raise ValueError(f"{name}={text!r} is not finite")
    return value


def _names(row: Row) -> tuple[str, str]:
    exchange, symbol = row["exchange"].strip().lower(), row["symbol"].strip()
    if not exchange:
        raise ValueError("exchange is empty")
    if "/" not in symbol:
        raise ValueError(f"symbol={symbol!r} is not a ccxt symbol such as BTC/USDT:USDT")
    return exchange, symbol


def _funding_row(row: Row) -> tuple[tuple[Any, ...], dict[str, Any]]:
    exchange, symbol = _names(row)
    if ":" not in symbol:
        raise ValueError(
            f"symbol={symbol!r} is spot; funding needs a perpetual such as BTC/USDT:USDT"
        )
    ts = _ts(row)
    rate = _num(row, "rate")
    if rate is None or abs(rate) > MAX_ABS_RATE:
        raise ValueError(f"rate={rate} is not a fraction per interval (0.0001 = 0.01 %)")
    hours = _num(row, "interval_hours")
    if hours is None or not 0 < hours <= 24:
        raise ValueError(f"interval_hours={hours} must lie in (0, 24]")
    mark = _num(row, "mark", optional=True)
    if mark is not None and mark <= 0:
        raise ValueError(f"mark={mark} must be positive or empty")
    values: dict[str, Any] = {"exchange": exchange, "symbol": symbol, "ts_ms": ts}
    values |= {"rate": rate, "interval_hours": hours, "mark": mark}
    return (exchange, symbol, ts), values


def _price_row(row: Row) -> tuple[tuple[Any, ...], dict[str, Any]]:
    exchange, symbol = _names(row)
    kind, interval = row["kind"].strip(), row["interval"].strip()
    if kind not in PRICE_KINDS:
        raise ValueError(f"kind={kind!r} must be one of {', '.join(PRICE_KINDS)}")
    try:
        interval_ms(interval)
    except InputError:
        raise ValueError(
            f"interval={interval!r} is not a candle interval such as 1h, 8h, 1d"
        ) from None
    ts = _ts(row)
    o, h, lo, c = (_num(row, k) for k in ("open", "high", "low", "close"))
    if o is None or h is None or lo is None or c is None or min(o, h, lo, c) <= 0:
        raise ValueError("open, high, low and close must be positive prices")
    if not lo <= min(o, c) <= max(o, c) <= h:
        raise ValueError(f"low {lo} <= open {o}, close {c} <= high {h} does not hold")
    values: dict[str, Any] = {"exchange": exchange, "symbol": symbol, "kind": kind}
    values["interval"] = interval
    values |= {"ts_ms": ts, "open": o, "high": h, "low": lo, "close": c}
    return (exchange, symbol, kind, interval, ts), values


def validate(table_name: str, rows: list[Row], first_line: int) -> pa.Table:
    """Checked rows as an Arrow table; DataError listing the first bad lines otherwise."""
    check: Callable[[Row], tuple[tuple[Any, ...], dict[str, Any]]] = (
        _funding_row if table_name == "funding" else _price_row
    )
    good: list[dict[str, Any]] = []
    seen: dict[tuple[Any, ...], int] = {}
    bad: list[str] = []
    for i, row in enumerate(rows):
        line = first_line + i
        try:
            key, values = check(row)
            if key in seen:
                raise ValueError(f"same key as line {seen[key]}")
        except ValueError as e:
            bad.append(f"line {line}: {e}")
            continue
        seen[key] = line
        good.append(values)
    if bad:
        more = f" (and {len(bad) - MAX_REPORTED} more)" if len(bad) > MAX_REPORTED else ""
        raise DataError(
            f"{len(bad)} bad row(s), nothing imported: {'; '.join(bad[:MAX_REPORTED])}{more}"
        )
    if not good:
        raise DataError("the file has no rows; nothing imported")
    return pa.Table.from_pylist(good, schema=_schema(table_name))


def _schema(table_name: str) -> pa.Schema:
    types = {"ts_ms": pa.int64(), "exchange": pa.string(), "symbol": pa.string()}
    types |= {"kind": pa.string(), "interval": pa.string()}
    return pa.schema([(c, types.get(c, pa.float64())) for c in TABLES[table_name]])


def import_file(store: MarketStore, path: Path) -> tuple[str, int, int]:
    """Validate and store `path`; returns (table, rows in file, new rows)."""
    columns, rows, first_line = read_rows(path)
    table_name = detect_table(columns)
    table = validate(table_name, rows, first_line)
    upsert = store.upsert_funding if table_name == "funding" else store.upsert_prices
    return table_name, table.num_rows, upsert(table)


def export_file(
    store: MarketStore,
    table_name: str,
    path: Path,
    where: dict[str, str],
    since_ms: int | None,
    until_ms: int | None,
) -> int:
    """Write the matching rows of `table_name` to `path` (CSV or Parquet); returns the count."""
    if table_name not in TABLES:
        raise InputError("--table", table_name, "use funding or prices")
    fmt = file_format(path)
    table = store.select(table_name, where, since_ms, until_ms)
    if table.num_rows == 0:
        asked = " ".join(f"--{key} {value}" for key, value in where.items()) or "the request"
        other = "prices" if table_name == "funding" else "funding"
        raise DataError(
            f"no {table_name} rows match {asked}; nothing written (candles and funding are "
            f"separate: try --table {other}; `perphedge data list` shows what is stored)"
        )
    tmp = path.with_name(path.name + ".partial")
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        if fmt == "csv":
            pacsv.write_csv(table, tmp)
        else:
            pq.write_table(table, tmp, compression="zstd")
        tmp.replace(path)
    except OSError as bad:
        if tmp.parent.is_dir():
            tmp.unlink(missing_ok=True)
        reason = bad.strerror or type(bad).__name__
        raise InputError(
            "out", str(path), f"cannot write it ({reason}): name a writable place"
        ) from None
    return int(table.num_rows)
