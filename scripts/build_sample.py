"""Rebuild the bundled market-data sample (src/perphedge/data/sample/) from ../shared/data.

    .venv/bin/python scripts/build_sample.py [--shared PATH] [--out PATH]

Reads the CSV files described in ../shared/data/PROVENANCE.md and writes two tidy Parquet tables:

* funding.parquet: exchange, symbol, ts_ms, rate, interval_hours, mark (NULL when unknown)
* prices.parquet:  exchange, symbol, kind (spot|perp|mark), interval (1h|8h|1d), ts_ms,
                   open, high, low, close

Symbols are ccxt unified symbols ("BTC/USDT" spot, "BTC/USDT:USDT" linear perpetual,
"BTC/USD:BTC" coin-margined perpetual). Exchange names are perphedge venue names. Funding times are
floored to the minute (Binance stamps carry a few ms of jitter). Where two files hold the same
(exchange, symbol, ts_ms) row, the file listed first below wins; the shared PROVENANCE.md records
that overlapping files agree exactly. Binance 1h mark candles are aggregated to 8h and 1d candles
(open = first open, high = max, low = min, close = last close; buckets with a missing
hour are dropped) to keep the package small.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SHARED = ROOT.parent / "shared" / "data"
DEFAULT_OUT = ROOT / "src" / "perphedge" / "data" / "sample"

MINUTE_MS = 60_000
# Hyperliquid paid every 8 h until 2023-06-08 00:00 UTC and every hour after that.
HYPERLIQUID_HOURLY_FROM_MS = 1_686_182_400_000

# (priority, SQL producing exchange, symbol, ts_ms, rate, interval_hours, mark); lower wins.
FUNDING_SOURCES: list[tuple[str, str]] = [
    (
        "funding/binance_btcusdt_funding.csv",
        """SELECT 'binance', 'BTC/USDT:USDT', epoch_ms(CAST("fundingTime" AS TIMESTAMPTZ)),
                  CAST("fundingRate" AS DOUBLE), 8.0, TRY_CAST("markPrice" AS DOUBLE)
           FROM read_csv('{path}', header=true, all_varchar=true)""",
    ),
    (
        "funding/binance_ethusdt_funding.csv",
        """SELECT 'binance', 'ETH/USDT:USDT', epoch_ms(CAST(funding_time_utc AS TIMESTAMPTZ)),
                  CAST(funding_rate AS DOUBLE), 8.0, NULL
           FROM read_csv('{path}', header=true, all_varchar=true)""",
    ),
    (
        "funding/binance_solusdt_funding.csv",
        """SELECT 'binance', 'SOL/USDT:USDT', epoch_ms(CAST(funding_time_utc AS TIMESTAMPTZ)),
                  CAST(funding_rate AS DOUBLE), 8.0, NULL
           FROM read_csv('{path}', header=true, all_varchar=true)""",
    ),
    (
        "funding/bybit_btcusdt_funding.csv",
        """SELECT 'bybit', 'BTC/USDT:USDT', epoch_ms(CAST(ts AS TIMESTAMPTZ)),
                  CAST("fundingRate" AS DOUBLE), 8.0, NULL
           FROM read_csv('{path}', header=true, all_varchar=true)""",
    ),
    (
        "funding/okx_btc_usdt_swap_funding_2026.csv",
        """SELECT 'okx', 'BTC/USDT:USDT', epoch_ms(CAST(ts AS TIMESTAMPTZ)),
                  CAST("fundingRate" AS DOUBLE), 8.0, NULL
           FROM read_csv('{path}', header=true, all_varchar=true)""",
    ),
    (
        "panels/binance_bybit_okx_btc_eth_spot_perp_funding_8h_2023_2024.csv",
        """SELECT exchange,
                  CASE pair WHEN 'BTCUSDT' THEN 'BTC/USDT:USDT' WHEN 'ETHUSDT' THEN 'ETH/USDT:USDT'
                            WHEN 'BTCUSDCM' THEN 'BTC/USD:BTC' WHEN 'ETHUSDCM' THEN 'ETH/USD:ETH' END,
                  epoch_ms(CAST(time_utc AS TIMESTAMPTZ)), CAST("funding rate" AS DOUBLE), 8.0, NULL
           FROM read_csv('{path}', header=true, all_varchar=true)
           WHERE contract = 'perpetual' AND "funding rate" <> ''""",
    ),
    (
        "funding/multi_exchange_btc_eth_funding_2020_2023.csv",
        """SELECT exchange,
                  CASE WHEN exchange = 'dydx' THEN replace(symbol, '-USDT', '') || '/USD:USD'
                       ELSE replace(symbol, '-', '/') || ':USDT' END,
                  epoch_ms(CAST(funding_time_utc AS TIMESTAMPTZ)), CAST(funding_rate AS DOUBLE),
                  CAST(CASE WHEN exchange = 'dydx' THEN 1 ELSE 8 END AS DOUBLE), NULL
           FROM read_csv('{path}', header=true, all_varchar=true)""",
    ),
    (
        "funding/hyperliquid_sol_funding_1h.csv",
        """SELECT 'hyperliquid', 'SOL/USDC:USDC', CAST("time" AS BIGINT),
                  CAST("fundingRate" AS DOUBLE),
                  CAST(CASE WHEN CAST("time" AS BIGINT) // 60000 * 60000 > {hl_hourly}
                            THEN 1 ELSE 8 END AS DOUBLE),
                  NULL
           FROM read_csv('{path}', header=true, all_varchar=true)""",
    ),
]

_CDD = """SELECT 'binance', '{symbol}', 'spot', '1d', CAST("Unix" AS BIGINT),
                 CAST("Open" AS DOUBLE), CAST("High" AS DOUBLE), CAST("Low" AS DOUBLE),
                 CAST("Close" AS DOUBLE)
          FROM read_csv('{path}', header=true, skip=1, all_varchar=true)"""
_KLINE_8H = """SELECT 'binance', '{symbol}', '{kind}', '8h', epoch_ms(CAST("openTime" AS TIMESTAMPTZ)),
                      CAST(open AS DOUBLE), CAST(high AS DOUBLE), CAST(low AS DOUBLE),
                      CAST(close AS DOUBLE)
               FROM read_csv('{path}', header=true, all_varchar=true)"""
_MARK_AGG = """SELECT 'binance', '{symbol}', 'mark', '{interval}', bucket,
                      arg_min(open, ts), max(high), min(low), arg_max(close, ts)
               FROM (SELECT epoch_ms(CAST(open_time_utc AS TIMESTAMPTZ)) AS ts,
                            epoch_ms(CAST(open_time_utc AS TIMESTAMPTZ))
                              // {bucket_ms} * {bucket_ms} AS bucket,
                            CAST(open AS DOUBLE) AS open, CAST(high AS DOUBLE) AS high,
                            CAST(low AS DOUBLE) AS low, CAST(close AS DOUBLE) AS close
                     FROM read_csv('{path}', header=true, all_varchar=true))
               GROUP BY bucket
               HAVING count(*) = {bucket_ms} // 3600000"""
_PANEL_PRICES = """SELECT exchange,
                  CASE pair WHEN 'BTCUSDT' THEN 'BTC/USDT:USDT' WHEN 'ETHUSDT' THEN 'ETH/USDT:USDT'
                            WHEN 'BTCUSDCM' THEN 'BTC/USD:BTC' WHEN 'ETHUSDCM' THEN 'ETH/USD:ETH'
                            ELSE pair END,
                  CASE contract WHEN 'spot' THEN 'spot' ELSE 'perp' END, '8h',
                  epoch_ms(CAST(time_utc AS TIMESTAMPTZ)), CAST(open AS DOUBLE),
                  CAST(high AS DOUBLE), CAST(low AS DOUBLE), CAST(close AS DOUBLE)
           FROM read_csv('{path}', header=true, all_varchar=true)"""

EIGHT_H_MS = 8 * 3_600_000
DAY_MS = 24 * 3_600_000


def _price_sources() -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    out.append(("prices/binance_spot_btcusdt_8h.csv", _KLINE_8H.replace("{kind}", "spot")))
    out[-1] = (out[-1][0], out[-1][1].replace("{symbol}", "BTC/USDT"))
    out.append(
        (
            "prices/binance_usdm_perp_btcusdt_8h.csv",
            _KLINE_8H.replace("{kind}", "perp").replace("{symbol}", "BTC/USDT:USDT"),
        )
    )
    for base in ("BTC", "ETH", "SOL"):
        low = base.lower()
        out.append(
            (
                f"prices/binance_spot_{low}usdt_1d_cryptodatadownload.csv",
                _CDD.replace("{symbol}", f"{base}/USDT"),
            )
        )
        for interval, bucket_ms in (("8h", EIGHT_H_MS), ("1d", DAY_MS)):
            sql = _MARK_AGG.replace("{symbol}", f"{base}/USDT:USDT")
            sql = sql.replace("{interval}", interval).replace("{bucket_ms}", str(bucket_ms))
            out.append((f"prices/binance_usdm_mark_{low}usdt_1h.csv", sql))
    out.append(
        ("panels/binance_bybit_okx_btc_eth_spot_perp_funding_8h_2023_2024.csv", _PANEL_PRICES)
    )
    return out


def _union(con: duckdb.DuckDBPyConnection, shared: Path, sources: list[tuple[str, str]]) -> str:
    parts = []
    for priority, (rel, sql) in enumerate(sources):
        path = shared / rel
        if not path.is_file():
            raise SystemExit(f"missing source file: {path}")
        body = sql.replace("{path}", str(path)).replace(
            "{hl_hourly}", str(HYPERLIQUID_HOURLY_FROM_MS)
        )
        parts.append(f"SELECT {priority} AS priority, * FROM ({body})")
    return " UNION ALL ".join(parts)


def build(shared: Path, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    funding = _union(con, shared, FUNDING_SOURCES)
    con.execute(
        f"""CREATE TABLE funding AS
            SELECT exchange, symbol, ts_ms, rate, interval_hours, mark FROM (
              SELECT col1 AS exchange, col2 AS symbol, col3 - col3 % {MINUTE_MS} AS ts_ms,
                     col4 AS rate, CAST(col5 AS DOUBLE) AS interval_hours,
                     CAST(col6 AS DOUBLE) AS mark,
                     row_number() OVER (PARTITION BY col1, col2, col3 - col3 % {MINUTE_MS}
                                        ORDER BY priority) AS rn
              FROM ({_renamed(funding, 6)}))
            WHERE rn = 1 ORDER BY exchange, symbol, ts_ms"""
    )
    prices = _union(con, shared, _price_sources())
    con.execute(
        f"""CREATE TABLE prices AS
            SELECT exchange, symbol, kind, "interval", ts_ms, open, high, low, close FROM (
              SELECT col1 AS exchange, col2 AS symbol, col3 AS kind, col4 AS "interval",
                     col5 AS ts_ms, col6 AS open, col7 AS high, col8 AS low, col9 AS close,
                     row_number() OVER (PARTITION BY col1, col2, col3, col4, col5
                                        ORDER BY priority) AS rn
              FROM ({_renamed(prices, 9)}))
            WHERE rn = 1 ORDER BY exchange, symbol, kind, "interval", ts_ms"""
    )
    for name in ("funding", "prices"):
        target = out / f"{name}.parquet"
        con.execute(f"COPY {name} TO '{target}' (FORMAT parquet, COMPRESSION zstd)")
        rows = con.execute(f"SELECT count(*) FROM {name}").fetchone()
        print(f"{target}: {rows[0] if rows else 0} rows, {target.stat().st_size} bytes")
    con.close()


def _renamed(union_sql: str, width: int) -> str:
    """Give the positional columns of a UNION stable names col1..colN (after `priority`)."""
    cols = ", ".join(f"col{i + 1}" for i in range(width))
    return f"SELECT * FROM ({union_sql}) AS u(priority, {cols})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    build(args.shared, args.out)


if __name__ == "__main__":
    main()
