"""A local Binance market-data server (127.0.0.1) for the unmodified ccxt client.

Serves public USDⓈ-M and spot market-data endpoints the way Binance documents them: fundingRate
(startTime/endTime/limit, oldest first), klines and markPriceKlines, premiumIndex, 24 h ticker,
leverageBracket, exchangeInfo. The data are real: funding history and candles come from the
bundled sample and ../shared/data/raw_api (recorded Binance bodies); exchangeInfo and ticker
shapes are in tests/fixtures/market (see NOTES.md there).

`fail_after(n, status)` makes every data request after the next `n` answer `status` (an
interrupted sync); `inject(path, status, times)` fails the next `times` requests to `path`.
Every request is kept in `.requests` as (path, params).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import numpy as np

from perphedge.store.market import MarketStore

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "market"
RAW_API = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "raw_api"
DATA_PATHS = (
    "/fapi/v1/fundingRate",
    "/fapi/v1/klines",
    "/fapi/v1/markPriceKlines",
    "/api/v3/klines",
    "/dapi/v1/fundingRate",
    "/dapi/v1/klines",
)
IDS = {"BTCUSDT": "BTC/USDT:USDT", "ETHUSDT": "ETH/USDT:USDT", "BTCUSD_PERP": "BTC/USD:BTC"}
INTERVAL_MS = {"8h": 8 * 3_600_000, "1d": 86_400_000}

Params = dict[str, str]


def _num(x: float) -> str:
    return repr(float(x))


@dataclass
class BinanceMarketData:
    """What the server knows: funding rows and candles per (kind, market id, interval)."""

    funding: dict[str, list[dict[str, Any]]] = field(default_factory=dict)
    candles: dict[tuple[str, str, str], list[list[Any]]] = field(default_factory=dict)

    @classmethod
    def from_sample(cls, until_ms: int | None = None) -> BinanceMarketData:
        """Binance BTC/ETH (USDⓈ-M), BTCUSD_PERP (COIN-M) funding and 8h candles (< until_ms)."""
        store = MarketStore(Path("/nonexistent/never-created.duckdb"))
        data = cls()
        for market_id, symbol in IDS.items():
            f = store.funding("binance", symbol, until_ms=until_ms)
            data.funding[market_id] = [
                {
                    "symbol": market_id,
                    "fundingTime": int(t),
                    "fundingRate": f"{r:.8f}",
                    "markPrice": f"{m:.8f}" if np.isfinite(m) else "",
                }
                for t, r, m in zip(f.ts_ms, f.rate, f.mark, strict=True)
            ]
        for kind, symbol, path in (
            ("perp", "BTC/USDT:USDT", "/fapi/v1/klines"),
            ("mark", "BTC/USDT:USDT", "/fapi/v1/markPriceKlines"),
            ("spot", "BTC/USDT", "/api/v3/klines"),
            ("perp", "BTC/USD:BTC", "/dapi/v1/klines"),
        ):
            p = store.prices("binance", symbol, kind, "8h", until_ms=until_ms)
            market_id = "BTCUSD_PERP" if path.startswith("/dapi") else "BTCUSDT"
            data.candles[(path, market_id, "8h")] = [
                [int(t), _num(o), _num(h), _num(lo), _num(c), "0", int(t) + INTERVAL_MS["8h"] - 1]
                for t, o, h, lo, c in zip(p.ts_ms, p.open, p.high, p.low, p.close, strict=True)
            ]
        return data

    def add_recorded_june_2026(self) -> None:
        """Replace BTCUSDT June 2026 with the recorded raw /fapi/v1/fundingRate body."""
        raw = json.loads((RAW_API / "binance_fapi_v1_fundingRate_BTCUSDT_2026-06.json").read_text())
        lo, hi = raw[0]["fundingTime"] - 60_000, raw[-1]["fundingTime"] + 60_000
        rows = [r for r in self.funding.get("BTCUSDT", []) if not lo <= r["fundingTime"] <= hi]
        self.funding["BTCUSDT"] = sorted([*rows, *raw], key=lambda r: r["fundingTime"])


class MarketServer:
    """Serve `data` on 127.0.0.1 (free port) until stopped; use as a context manager."""

    def __init__(self, data: BinanceMarketData, static: dict[str, Any] | None = None) -> None:
        self.data = data
        self.static = static or {}  # path -> recorded body, for any venue
        self.requests: list[tuple[str, Params]] = []
        self.unknown: list[str] = []
        self._faults: dict[str, list[int]] = {}
        self._budget: tuple[int, int] | None = None
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def __enter__(self) -> MarketServer:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def inject(self, path: str, status: int, times: int = 1) -> None:
        self._faults.setdefault(path, []).extend([status] * times)

    def fail_after(self, n: int, status: int = 503) -> None:
        self._budget = (n, status)

    def heal(self) -> None:
        self._budget = None

    def data_requests(self, path: str | None = None) -> list[Params]:
        return [p for q, p in self.requests if (path is None and q in DATA_PATHS) or q == path]

    # ---------------------------------------------------------------- routing
    def _fault(self, path: str) -> int | None:
        with self._lock:
            queue = self._faults.get(path)
            if queue:
                return queue.pop(0)
            if self._budget is not None and path in DATA_PATHS:
                left, status = self._budget
                if left <= 0:
                    return status
                self._budget = (left - 1, status)
        return None

    def route(self, path: str, p: Params) -> Any:
        if path in self.static:
            body = self.static[path]
            return body(p) if callable(body) else body
        routes: dict[str, Callable[[Params], Any]] = {
            "/fapi/v1/exchangeInfo": lambda p: _fixture("binance_fapi_v1_exchangeInfo.json"),
            "/api/v3/exchangeInfo": lambda p: _fixture("binance_api_v3_exchangeInfo.json"),
            "/fapi/v1/fundingRate": self._funding,
            "/dapi/v1/fundingRate": self._funding,
            "/dapi/v1/exchangeInfo": lambda p: _fixture("binance_dapi_v1_exchangeInfo.json"),
            "/dapi/v1/klines": lambda p: self._klines("/dapi/v1/klines", p, 1500),
            "/fapi/v1/klines": lambda p: self._klines("/fapi/v1/klines", p, 1500),
            "/fapi/v1/markPriceKlines": lambda p: self._klines("/fapi/v1/markPriceKlines", p, 1500),
            "/api/v3/klines": lambda p: self._klines("/api/v3/klines", p, 1000),
            "/fapi/v1/premiumIndex": _premium_index,
            "/fapi/v1/ticker/24hr": lambda p: _fixture("binance_fapi_v1_ticker_24hr_BTCUSDT.json"),
            "/fapi/v1/leverageBracket": lambda p: _raw("binance_fapi_v1_leverageBracket_BTCUSDT_2023.json"),
            "/fapi/v1/fundingInfo": lambda p: [],
            "/dapi/v1/fundingInfo": lambda p: [],
            "/fapi/v1/time": lambda p: {"serverTime": 1790767762103},
        }  # fmt: skip
        if path not in routes:
            raise KeyError(path)
        return routes[path](p)

    def _funding(self, p: Params) -> Any:
        rows = self.data.funding.get(p.get("symbol", ""), [])
        limit = min(int(p.get("limit", "100")), 1000)
        lo, hi = int(p.get("startTime", "0")), int(p.get("endTime", str(2**62)))
        picked = [r for r in rows if lo <= r["fundingTime"] <= hi]
        return picked[:limit] if "startTime" in p else picked[-limit:]

    def _klines(self, path: str, p: Params, max_limit: int) -> Any:
        rows = self.data.candles.get((path, p.get("symbol", p.get("pair", "")), p["interval"]), [])
        limit = min(int(p.get("limit", "500")), max_limit)
        lo, hi = int(p.get("startTime", "0")), int(p.get("endTime", str(2**62)))
        picked = [r for r in rows if lo <= r[0] <= hi]
        return picked[:limit] if "startTime" in p else picked[-limit:]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                url = urlsplit(self.path)
                params = dict(parse_qsl(url.query))
                server.requests.append((url.path, params))
                status = server._fault(url.path)
                if status is not None:
                    self._send(status, {"code": -1001, "msg": "Internal error; unable to process."})
                    return
                try:
                    body = server.route(url.path, params)
                except KeyError:
                    server.unknown.append(url.path)
                    self._send(404, {"code": -1, "msg": f"no route {url.path}"})
                    return
                self._send(200, body)

            def _send(self, status: int, body: Any) -> None:
                raw = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        return Handler


def _fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def _raw(name: str) -> Any:
    return json.loads((RAW_API / name).read_text())


def _premium_index(p: Params) -> Any:
    """The recorded premiumIndex capture (BTCUSDT, 2026-09-30), unwrapped from its _meta."""
    sample = _raw("binance_fapi_v1_premiumIndex_BTCUSDT_2026-09-30.json")["samples"]
    if "symbol" in p:
        return sample[p["symbol"]]
    return list(sample.values())
