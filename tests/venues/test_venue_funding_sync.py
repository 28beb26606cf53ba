"""`perphedge data sync` then `perphedge funding` on BingX, WEEX and MEXC, end to end.

The unmodified ccxt client (through perphedge's adapter, `--base-url`) talks to a 127.0.0.1 server
answering with the recorded bodies of the venue tests (tests/venues/test_venue_<venue>.py): the markets
those tests serve and each venue's recorded funding-rate history:

* BingX `GET /openApi/swap/v2/quote/fundingRate`: QNT-USDT, 2 rows (DOC EXAMPLE, jkorf);
* WEEX `GET /capi/v3/market/fundingRate`: ETHUSDT, 1 row (GENUINE, ccxt fixture);
* MEXC `GET /api/v1/contract/funding_rate/history`: BTC_USDT, 2 rows (DOC EXAMPLE, jkorf).

The synced store starts empty, so every statistic below comes from those rates alone.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from perphedge.exchanges.market_data import walk_pages
from perphedge.store.market import MarketStore
from tests.conftest import CliResult
from tests.recorded_venue import RecordedServer, adapter
from tests.venues import test_venue_bingx, test_venue_mexc, test_venue_weex

Run = Callable[..., CliResult]
MEXC_HISTORY = "/api/v1/contract/funding_rate/history"


@dataclass(frozen=True)
class Case:
    symbol: str  # the perpetual synced
    text: str  # how `funding` is asked for it
    since: str
    until: str
    history_path: str
    routes: Callable[[], dict[str, Any]]
    query: dict[str, list[str]]  # what ccxt must send for the history (subset)
    fetched: int
    mean_rate: float
    apr: float
    year: str
    first: str
    last: str


CASES = {
    # 2023-12-16 00:00 0.000128 and 08:00 0.000271: mean (0.000128 + 0.000271) / 2 = 0.0001995
    # per 8 h (BingX default: the recorded premiumIndex body names no interval);
    # APR 0.0001995 x 3 x 365 = 0.2184525; both positive: the short never paid.
    "bingx": Case(
        "QNT/USDT:USDT", "QNT", "2023-12-01", "2023-12-31",
        "/openApi/swap/v2/quote/fundingRate", test_venue_bingx._routes,
        # window [2023-12-01 00:00, 2024-01-01 00:00) as startTime / endTime (inclusive)
        {"symbol": ["QNT-USDT"], "startTime": ["1701388800000"], "endTime": ["1704067199999"]},
        2, 0.0001995, 0.2184525, "2023", "2023-12-16 00:00", "2023-12-16 08:00",
    ),
    # 2026-04-07 16:00 0.00001031 per 8 h (collectCycle 480 min): APR 0.00001031 x 1095 =
    # 0.01128945.
    "weex": Case(
        "ETH/USDT:USDT", "ETH", "2026-04-01", "2026-04-30",
        "/capi/v3/market/fundingRate", test_venue_weex._routes,
        {"symbol": ["ETHUSDT"], "startTime": ["1775001600000"], "endTime": ["1777593599999"]},
        1, 0.00001031, 0.01128945, "2026", "2026-04-07 16:00", "2026-04-07 16:00",
    ),
    # 2021-01-04 16:00 0.00029 and 2021-01-05 00:00 0.000266 per 8 h (collectCycle 8):
    # mean (0.00029 + 0.000266) / 2 = 0.000278; APR 0.000278 x 1095 = 0.30441.
    # MEXC takes a page number, not a time window: one page of 2 < 100 rows ends the walk.
    "mexc": Case(
        "BTC/USDT:USDT", "BTC", "2021-01-01", "2021-01-10",
        MEXC_HISTORY, test_venue_mexc._routes,
        {"symbol": ["BTC_USDT"], "page_num": ["1"], "page_size": ["100"]},
        2, 0.000278, 0.30441, "2021", "2021-01-04 16:00", "2021-01-05 00:00",
    ),
}  # fmt: skip


def _empty_home_store(home: Path) -> Path:
    """The default store ($PERPHEDGE_HOME/market.duckdb), created empty (no bundled sample)."""
    path = home / "market.duckdb"
    path.parent.mkdir(parents=True, exist_ok=True)
    with MarketStore(path, seed=False).writing():
        pass
    return path


def _sync(run: Run, venue: str, case: Case, server: RecordedServer) -> CliResult:
    return run(
        "data", "sync", "--exchange", venue, "--symbols", case.symbol, "--since", case.since,
        "--until", case.until, "--datasets", "funding", "--base-url", server.base, "--json",
    )  # fmt: skip


@pytest.mark.parametrize("venue", sorted(CASES))
def test_sync_through_the_adapter_then_funding_statistics(
    venue: str, run_cli: Run, tmp_path: Path
) -> None:
    case = CASES[venue]
    store = _empty_home_store(tmp_path / "home")
    with RecordedServer(case.routes()) as server:
        synced = _sync(run_cli, venue, case, server)
        assert synced.code == 0, synced.err
        (series,) = json.loads(synced.out)["series"]
        assert (series["exchange"], series["symbol"], series["dataset"]) == (
            venue,
            case.symbol,
            "funding",
        )
        assert (series["fetched"], series["new_rows"]) == (case.fetched, case.fetched)
        (call,) = server.sent("GET", case.history_path)  # one request covers the window
        assert {k: call.query.get(k) for k in case.query} == case.query
        assert not server.unknown

        again = _sync(run_cli, venue, case, server)  # resumes; nothing new, nothing doubled
        assert json.loads(again.out)["series"][0]["new_rows"] == 0
    assert len(MarketStore(store).funding(venue, case.symbol)) == case.fetched

    r = run_cli("funding", case.text, "--exchange", venue, "--json")
    assert r.code == 0, r.err
    got = json.loads(r.out)["symbols"][case.text]
    stats = got["venues"][venue]
    assert stats["symbol"] == case.symbol
    assert stats["n_intervals"] == case.fetched
    assert stats["interval_hours"] == 8.0
    assert stats["mean_rate"] == pytest.approx(case.mean_rate, rel=1e-12)
    assert stats["apr"] == pytest.approx(case.apr, rel=1e-12)
    assert stats["negative_share"] == 0.0
    assert stats["by_year"] == {case.year: pytest.approx(case.apr, rel=1e-12)}
    assert (stats["first"], stats["last"]) == (case.first, case.last)
    assert stats["on_average"] == "short hedge earns funding (longs pay shorts)"
    assert [row["venue"] for row in got["comparison"]["ranking"]] == [venue]
    assert got["comparison"]["not_comparable"] == []

    table = run_cli("funding", case.text, "--exchange", venue)
    assert table.code == 0, table.err
    assert f"{case.text} on {venue}, by calendar year (UTC)" in table.out
    assert f"{case.apr * 100:.2f} %" in table.out  # e.g. 21.85 % for BingX


def test_a_synced_single_settlement_is_listed_beside_the_comparison(
    run_cli: Run, tmp_path: Path
) -> None:
    before = json.loads(run_cli("funding", "ETH", "--json").out)["symbols"]["ETH"]["comparison"]
    case = CASES["weex"]
    with RecordedServer(case.routes()) as server:  # into the store seeded with the sample
        assert _sync(run_cli, "weex", case, server).code == 0
    r = run_cli("funding", "ETH", "--json")
    assert r.code == 0, r.err
    eth = json.loads(r.out)["symbols"]["ETH"]
    after = eth["comparison"]
    assert "weex" in eth["venues"]
    # WEEX's one settlement (2026) does not collapse the window the others share
    assert (after["since"], after["until"]) == (before["since"], before["until"])
    assert after["ranking"] == before["ranking"]
    (aside,) = after["not_comparable"]
    assert aside["venue"] == "weex" and aside["n_intervals"] == 1
    assert aside["apr"] == pytest.approx(0.01128945, rel=1e-12)  # 0.00001031 x 1095
    assert aside["note"] == (
        "not comparable: only 1 settlement from 2026-04-07 16:00 to 2026-04-07 16:00"
    )
    venues = {row["venue"] for row in (*after["ranking"], *after["not_comparable"])}
    assert venues == set(eth["venues"])  # every venue with data is in the comparison

    text = run_cli("funding", "ETH", "-e", "binance,weex")
    assert text.code == 0, text.err
    assert "not comparable: only 1 settlement from 2026-04-07 16:00" in text.out
    assert "binance's own history" in text.out  # binance alone is ranked


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--exchange", "mexc", "--symbols", "BTC/USDT"], "--symbols='BTC/USDT'"),
        (["--exchange", "weex", "--symbols", "XRP/USDT:USDT"], "symbol='XRP/USDT:USDT'"),
        (["--exchange", "weex", "--symbols", "BTC/USD:BTC"], "weex offers no inverse markets"),
        (["--exchange", "bingx", "--symbols", "QNT/USDT:USDT", "--since", "2024-02-01"],
         "--since='2024-02-01' is invalid: must be before 2024-01-31"),
        (["--exchange", "bingx", "--symbols", "QNT/USDT:USDT", "--datasets", "fundng"],
         "--datasets='fundng'"),
        (["--exchange", "bingxx", "--symbols", "QNT/USDT:USDT"], "exchange='bingxx'"),
    ],
)  # fmt: skip
def test_bad_sync_input_gets_one_line_and_exit_2(run_cli: Run, args: list[str], needle: str):
    routes = {**test_venue_bingx._routes(), **test_venue_weex._routes()}
    routes |= test_venue_mexc._routes()
    with RecordedServer(routes) as server:
        r = run_cli(
            "data", "sync", *args, "--until", "2024-01-31", "--base-url", server.base,
        )  # fmt: skip
    assert r.code == 2, r.out
    assert needle in r.err
    assert r.err.startswith("error: ") and len(r.err.splitlines()) == 1
    assert "Traceback" not in r.err


def test_funding_on_a_synced_venue_outside_its_period_says_so(run_cli: Run, tmp_path: Path):
    case = CASES["bingx"]
    _empty_home_store(tmp_path / "home")
    with RecordedServer(case.routes()) as server:
        assert _sync(run_cli, "bingx", case, server).code == 0
    r = run_cli("funding", "QNT", "-e", "bingx", "--since", "2024-01-01")
    assert r.code == 2
    assert "no funding for bingx QNT/USDT:USDT" in r.err
    assert r.err.count("\n") == 1


# --- MEXC: history by page number --------------------------------------------------------------

H8 = 8 * 3_600_000
NEWEST = 1_700_006_400_000  # 2023-11-15 00:00 UTC, a settlement time
STAMPS = [NEWEST - i * H8 for i in range(250)]  # SYNTHETIC: 250 settlements, newest first


def _page(number: int, size: int = 100) -> list[dict[str, int]]:
    return [{"timestamp": t} for t in STAMPS[(number - 1) * size : number * size]]


def test_walk_pages_stops_at_since_at_a_short_page_or_when_pages_repeat():
    asked: list[int] = []
    reached: list[int] = []

    def fetch(number: int) -> list[dict[str, int]]:
        asked.append(number)
        return _page(number)

    until = NEWEST + 1
    rows = walk_pages(fetch, STAMPS[-1], until, 100, reached.append)
    assert asked == [1, 2, 3] and len(rows) == 250  # pages of 100, 100, 50: the short one ends
    assert reached == sorted(reached) and reached[-1] == until  # progress only moves forward
    asked.clear()
    walk_pages(fetch, STAMPS[150], until, 100, None)
    assert asked == [1, 2]  # page 2 (rows 100..199) already reaches back before row 150
    asked.clear()
    stuck = walk_pages(lambda n: (asked.append(n), _page(1))[1], 0, until, 100, None)
    assert asked == [1, 2] and len({r["timestamp"] for r in stuck}) == 100  # ignores page_num


def test_mexc_history_through_the_adapter_walks_pages_newest_first():
    # CONSTRUCTED pages in the shape of the recorded MEXC body (jkorf DOC EXAMPLE): the
    # synthetic STAMPS with rate 0.0001, page_size rows per page_num, newest first.
    recorded_body = test_venue_mexc._body("ExchangeData_GetFundingRateHistory")

    def history(req: Any) -> Any:
        number, size = int(req.query["page_num"][0]), int(req.query["page_size"][0])
        rows = [
            {"symbol": "BTC_USDT", "fundingRate": 0.0001, "settleTime": r["timestamp"]}
            for r in _page(number, size)
        ]
        return {**recorded_body, "data": {**recorded_body["data"], "resultList": rows}}

    routes = {**test_venue_mexc._routes(), f"GET {MEXC_HISTORY}": history}
    with RecordedServer(routes) as server:
        md, _account = adapter("mexc", server)
        since = STAMPS[120]
        got = md.funding_history("BTC/USDT:USDT", since, NEWEST + 1)
        pages = [r.query["page_num"] for r in server.sent("GET", MEXC_HISTORY)]
    assert pages == [["1"], ["2"]]
    assert got.ts_ms.tolist() == sorted(STAMPS[:121])  # rows 0..120, oldest first
    assert got.rate.tolist() == [0.0001] * 121
