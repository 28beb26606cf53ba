"""A local fake of Binance USDⓈ-M REST for the unmodified ccxt client, with fault injection.

    with FakeBinance() as fake:
        exchange = make_ccxt(fake)           # perphedge's client, pointed at the fake
        fake.inject(Fault.lost())            # the next POST /fapi/v1/order is executed, then
        ...                                  # the connection drops before the answer

Listens on 127.0.0.1 on a free port, one thread per request. Private endpoints check the API key
header, the HMAC-SHA256 signature of the query (GET/DELETE) or form body (POST/PUT) and the
timestamp window, as Binance does. Unknown paths answer 404 and are kept in `unknown_paths`.
Every request is logged in `requests` (method, path, parameters, outcome) for assertions.
The account and matching engine live in `fakes.binance_state`.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tests.fakes import binance_bodies as bodies
from tests.fakes.binance_state import SPECS, ApiError, ExchangeState

RECV_WINDOW_MS = 5000
WEEK_MS = 7 * 24 * 3_600_000
RATE_LIMIT_BODY = {"code": -1003, "msg": "Too many requests; current limit is 2400 per minute."}
Params = dict[str, str]


@dataclass
class Fault:
    """One injected failure for the next `times` requests matching `method` and `path`.

    kind: "timeout" (answer after `delay_s`, beyond the client's timeout; `process` says whether
    the request is executed first), "status" (HTTP `status`, not executed), "rate_limit" (429 with
    Retry-After, not executed), "reject" (Binance error `code`/`msg`, not executed), "lost"
    (executed, then the connection is dropped, or a 502 is sent when `drop` is False; `on_hit`
    runs in between, e.g. to SIGKILL the client process).
    """

    kind: str
    method: str = "POST"
    path: str = "/fapi/v1/order"
    times: int = 1
    status: int = 503
    code: int = 0
    msg: str = ""
    process: bool = False
    drop: bool = True
    delay_s: float = 0.8
    retry_after_s: int = 1
    after: int = 0  # let this many matching requests pass first
    on_hit: Callable[[], None] | None = None  # called once the request was executed (or not)

    @classmethod
    def timeout(cls, process: bool = False, **kw: Any) -> Fault:
        return cls("timeout", process=process, **kw)

    @classmethod
    def server_error(cls, status: int = 503, **kw: Any) -> Fault:
        return cls("status", status=status, **kw)

    @classmethod
    def rate_limit(cls, retry_after_s: int = 1, **kw: Any) -> Fault:
        return cls("rate_limit", status=429, retry_after_s=retry_after_s, **kw)

    @classmethod
    def reject(cls, code: int, msg: str, **kw: Any) -> Fault:
        return cls("reject", code=code, msg=msg, **kw)

    @classmethod
    def margin_insufficient(cls, **kw: Any) -> Fault:
        return cls.reject(-2019, "Margin is insufficient.", **kw)

    @classmethod
    def lost(cls, drop: bool = True, **kw: Any) -> Fault:
        return cls("lost", drop=drop, **kw)


@dataclass(frozen=True)
class Logged:
    method: str
    path: str
    params: Params
    outcome: str  # "ok", "error -2019", "fault timeout", ...


def _now_ms() -> int:
    return time.time_ns() // 1_000_000


@dataclass
class FakeBinance:
    """The server; `state` is the exchange, `inject` adds faults, `requests` logs traffic."""

    api_key: str = "fake-api-key-0123456789"
    secret: str = "fake-secret-abcdefghijklmnop"
    clock: Callable[[], int] = _now_ms
    state: ExchangeState = field(init=False)
    requests: list[Logged] = field(default_factory=list)
    unknown_paths: list[str] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    _server: ThreadingHTTPServer | None = None
    _stopping: threading.Event = field(default_factory=threading.Event)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def __post_init__(self) -> None:
        self.state = ExchangeState(clock=self.clock)

    # ---------------------------------------------------------------- lifecycle
    def start(self) -> FakeBinance:
        handler = type("Handler", (_Handler,), {"fake": self})
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True).start()
        return self

    def stop(self) -> None:
        self._stopping.set()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()

    def __enter__(self) -> FakeBinance:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        assert self._server is not None, "start() the server first"
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    # ---------------------------------------------------------------- faults and log
    def inject(self, *faults: Fault) -> None:
        with self._lock:
            self.faults.extend(faults)

    def take_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.method == method and fault.path == path:
                    if fault.after > 0:
                        fault.after -= 1
                        return None
                    fault.times -= 1
                    if fault.times <= 0:
                        self.faults.remove(fault)
                    return fault
        return None

    def log(self, method: str, path: str, params: Params, outcome: str) -> None:
        with self._lock:
            self.requests.append(Logged(method, path, params, outcome))

    def calls(self, method: str, path: str, outcome: str | None = None) -> list[Logged]:
        """Logged requests to `method path`, optionally only those with `outcome`."""
        with self._lock:
            return [
                r
                for r in self.requests
                if r.method == method and r.path == path and outcome in (None, r.outcome)
            ]

    def sleep(self, seconds: float) -> None:
        self._stopping.wait(seconds)

    # ---------------------------------------------------------------- auth
    def check_auth(self, api_key: str | None, raw_query: str, trading: bool = False) -> None:
        """Binance's checks: key, HMAC signature, timestamp window; a read-only key may not trade."""
        if api_key != self.api_key or (trading and not self.state.key_can_trade):
            raise ApiError(-2015, "Invalid API-key, IP, or permissions for action.", 401)
        payload, sep, signature = raw_query.rpartition("&signature=")
        expected = hmac.new(self.secret.encode(), payload.encode(), hashlib.sha256).hexdigest()
        if not sep or not hmac.compare_digest(signature, expected):
            raise ApiError(-1022, "Signature for this request is not valid.")
        params = dict(parse_qsl(payload))
        window = int(params.get("recvWindow", RECV_WINDOW_MS))
        skew = self.clock() - int(params.get("timestamp", "0"))
        if skew > window or skew < -1000:
            raise ApiError(-1021, "Timestamp for this request is outside of the recvWindow.")


def use_usdm_error_table(exchange: Any) -> None:
    """Map Binance error codes as ccxt does for https://fapi.binance.com/ URLs.

    ccxt picks its USDⓈ-M table (-2019 -> InsufficientFunds, -4116 -> InvalidOrder, ...) by the
    URL prefix; for a local URL it falls back to the generic table. This makes the USDⓈ-M one
    the default, so that errors map exactly as they do against the real host.
    """
    for kind in ("exact", "broad"):
        linear = exchange.exceptions["linear"].get(kind, {})
        exchange.exceptions[kind] = {**exchange.exceptions[kind], **linear}


def make_ccxt(fake: FakeBinance, timeout_ms: int = 500, secret: str | None = None) -> Any:
    """perphedge's ccxt binanceusdm client (exchanges.client) with the fake's keys and URL."""
    from perphedge.exchanges.client import Credentials, make_exchange

    exchange = make_exchange(
        "binance",
        credentials=Credentials(fake.api_key, secret or fake.secret),
        base_url=fake.base_url,
        timeout_ms=timeout_ms,
        use_keyring=False,
    )
    use_usdm_error_table(exchange)
    exchange.enableRateLimit = False  # ccxt's client-side pacing only slows a local test down
    return exchange


# ------------------------------------------------------------------------- routing
Route = tuple[bool, Callable[[FakeBinance, Params], Any]]


def _symbol(p: Params) -> str:
    symbol = p.get("symbol", "")
    if symbol not in SPECS:
        raise ApiError(-1121, "Invalid symbol.")
    return symbol


def _premium(f: FakeBinance, p: Params) -> Any:
    now = f.clock()
    if "symbol" in p:
        return bodies.premium_index(f.state, _symbol(p), now)
    return [bodies.premium_index(f.state, s, now) for s in SPECS]


def _funding_rates(f: FakeBinance, p: Params) -> Any:
    """Binance: rows in [startTime, endTime], oldest first, `limit` (default 100, max 1000)."""
    start, end = int(p.get("startTime", "0")), int(p.get("endTime", str(f.clock())))
    limit = min(int(p.get("limit", "100")), 1000)
    rows = bodies.funding_rate_history(_symbol(p))
    return [r for r in rows if start <= r["fundingTime"] <= end][:limit]


def _new_order(f: FakeBinance, p: Params) -> Any:
    return bodies.order(f.state.place(p))


def _get_order(f: FakeBinance, p: Params) -> Any:
    return bodies.order(f.state.find(_symbol(p), p.get("orderId"), p.get("origClientOrderId")))


def _cancel_order(f: FakeBinance, p: Params) -> Any:
    return bodies.order(f.state.cancel(_symbol(p), p.get("orderId"), p.get("origClientOrderId")))


def _open_orders(f: FakeBinance, p: Params) -> Any:
    return [bodies.order(o) for o in f.state.open_orders(p.get("symbol"))]


def _user_trades(f: FakeBinance, p: Params) -> Any:
    """Binance: at most 7 days between startTime and endTime; neither given -> the last 7 days."""
    symbol, now = _symbol(p), f.clock()
    start = int(p["startTime"]) if "startTime" in p else None
    end = int(p["endTime"]) if "endTime" in p else None
    if start is None and end is None:
        start, end = now - WEEK_MS, now
    elif start is None:
        start = int(str(end)) - WEEK_MS
    elif end is None:
        end = start + WEEK_MS
    if end - start > WEEK_MS:
        raise ApiError(-1127, "More than 7 days between startTime and endTime.")
    with f.state.lock:
        rows = [t for t in f.state.trades if t.symbol == symbol and start <= t.time_ms <= end]
    return [bodies.trade(t) for t in rows[: int(p.get("limit", "500"))]]


def _income(f: FakeBinance, p: Params) -> Any:
    since = int(p.get("startTime", "0"))
    with f.state.lock:
        rows = [
            r
            for r in f.state.income
            if p.get("symbol") in (None, r["symbol"])
            and p.get("incomeType") in (None, r["incomeType"])
            and int(str(r["time"])) >= since
        ]
    return rows[: int(p.get("limit", "100"))]


def _margin_history(f: FakeBinance, p: Params) -> Any:
    """Binance: rows of `symbol` (and `type`) in [startTime, endTime], oldest first."""
    start, end = int(p.get("startTime", "0")), int(p.get("endTime", str(f.clock())))
    with f.state.lock:
        rows = [
            r
            for r in f.state.margin_history
            if r["symbol"] == _symbol(p)
            and p.get("type") in (None, r["type"])
            and start <= int(r["time"]) <= end
        ]
    return rows[: int(p.get("limit", "500"))]


def _transfers(f: FakeBinance, p: Params) -> Any:
    """Binance: the universal transfers of `type` in [startTime, endTime], oldest first."""
    start, end = int(p.get("startTime", "0")), int(p.get("endTime", str(f.clock())))
    with f.state.lock:
        rows = [
            r
            for r in f.state.transfers
            if r["type"] == p.get("type") and start <= int(r["timestamp"]) <= end
        ]
    return {"total": len(rows), "rows": rows[: int(p.get("size", "100"))]}


def _spot_account(f: FakeBinance, p: Params) -> Any:
    """GET /api/v3/account: the spot wallet (USDT only)."""
    with f.state.lock:
        free = f"{f.state.spot_wallet:f}"
    return {"canTrade": True, "balances": [{"asset": "USDT", "free": free, "locked": "0"}]}


def _positions(f: FakeBinance, p: Params) -> Any:
    with f.state.lock:
        symbols = [_symbol(p)] if "symbol" in p else list(SPECS)
        return [bodies.position_risk(f.state, s) for s in symbols]


def _leverage(f: FakeBinance, p: Params) -> Any:
    f.state.set_leverage(_symbol(p), int(p.get("leverage", "0")))
    return {"leverage": int(p["leverage"]), "maxNotionalValue": "80000000", "symbol": p["symbol"]}


def _margin_type(f: FakeBinance, p: Params) -> Any:
    """POST /fapi/v1/marginType (ISOLATED | CROSSED); the fake keeps the mode, margins stay cross."""
    symbol, wanted = _symbol(p), p.get("marginType", "")
    if wanted not in ("ISOLATED", "CROSSED"):
        raise ApiError(-1102, "Mandatory parameter 'marginType' was not sent, was empty/null, or malformed.")  # fmt: skip
    with f.state.lock:
        if f.state.margin_types.get(symbol, "CROSSED") == wanted:
            raise ApiError(-4046, "No need to change margin type.")
        if f.state.position_amt(symbol) != 0:
            raise ApiError(-4048, "Margin type cannot be changed if there exists position.")
        f.state.margin_types[symbol] = wanted
    return {"code": 200, "msg": "success"}


def _account(f: FakeBinance, p: Params) -> Any:
    with f.state.lock:
        return bodies.account(f.state, f.clock())


ROUTES: dict[tuple[str, str], Route] = {
    ("GET", "/fapi/v1/ping"): (False, lambda f, p: {}),
    ("GET", "/fapi/v1/time"): (False, lambda f, p: {"serverTime": f.clock()}),
    ("GET", "/fapi/v1/exchangeInfo"): (False, lambda f, p: bodies.exchange_info(f.clock())),
    ("GET", "/fapi/v1/premiumIndex"): (False, _premium),
    ("GET", "/fapi/v1/fundingInfo"): (False, lambda f, p: bodies.funding_info()),
    ("GET", "/fapi/v1/fundingRate"): (False, _funding_rates),
    ("GET", "/fapi/v1/leverageBracket"): (
        True,
        lambda f, p: bodies.leverage_brackets(p.get("symbol")),
    ),
    ("GET", "/fapi/v3/account"): (True, _account),
    ("GET", "/fapi/v2/account"): (True, _account),
    ("GET", "/fapi/v3/positionRisk"): (True, _positions),
    ("GET", "/fapi/v2/positionRisk"): (True, _positions),
    ("GET", "/fapi/v1/openOrders"): (True, _open_orders),
    ("POST", "/fapi/v1/order"): (True, _new_order),
    ("GET", "/fapi/v1/order"): (True, _get_order),
    ("DELETE", "/fapi/v1/order"): (True, _cancel_order),
    ("GET", "/fapi/v1/userTrades"): (True, _user_trades),
    ("GET", "/fapi/v1/income"): (True, _income),
    ("POST", "/fapi/v1/leverage"): (True, _leverage),
    ("POST", "/fapi/v1/marginType"): (True, _margin_type),
    ("POST", "/fapi/v1/positionMargin"): (True, lambda f, p: f.state.move_margin(p)),
    ("GET", "/fapi/v1/positionMargin/history"): (True, _margin_history),
    ("GET", "/fapi/v1/forceOrders"): (True, lambda f, p: f.state.force_orders_of(p)),
    ("POST", "/sapi/v1/asset/transfer"): (True, lambda f, p: f.state.transfer(p)),
    ("GET", "/sapi/v1/asset/transfer"): (True, _transfers),
    ("GET", "/api/v3/account"): (True, _spot_account),
    ("GET", "/sapi/v1/capital/config/getall"): (True, lambda f, p: bodies.capital_config()),
    ("GET", "/sapi/v1/margin/allPairs"): (True, lambda f, p: bodies.MARGIN_PAIRS),
    ("GET", "/sapi/v1/account/apiRestrictions"): (
        True,
        lambda f, p: bodies.api_restrictions(f.state, f.clock()),
    ),
}


class _Handler(BaseHTTPRequestHandler):
    fake: FakeBinance
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # headers and body go out at once: no 40 ms delayed-ACK stall

    def log_message(self, format: str, *args: Any) -> None:  # silence stderr noise
        return

    def do_GET(self) -> None:
        self._handle("GET")

    def do_POST(self) -> None:
        self._handle("POST")

    def do_DELETE(self) -> None:
        self._handle("DELETE")

    def do_PUT(self) -> None:
        self._handle("PUT")

    def _handle(self, method: str) -> None:
        url = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length).decode() if length else url.query
        params = {k: v for k, v in parse_qsl(raw) if k != "signature"}
        route = ROUTES.get((method, url.path))
        if route is None:
            self.fake.unknown_paths.append(f"{method} {url.path}")
            self._log_send(method, url.path, params, "unknown path", 404,
                           {"code": -5000, "msg": f"Path {url.path}, Method {method} is invalid"})  # fmt: skip
            return
        private, action = route
        try:
            if private:
                trading = method != "GET" and url.path.startswith("/fapi/")
                self.fake.check_auth(self.headers.get("X-MBX-APIKEY"), raw, trading)
        except ApiError as e:
            self._log_send(method, url.path, params, f"error {e.code}", e.http_status,
                           {"code": e.code, "msg": e.msg})  # fmt: skip
            return
        fault = self.fake.take_fault(method, url.path)
        executes = (
            fault is None
            or fault.kind == "lost"
            or (fault.kind, fault.process)
            == (
                "timeout",
                True,
            )
        )
        if fault is not None and not executes:
            self._pre_fault(method, url.path, params, fault)
            return
        self._run(method, url.path, params, action, fault)

    def _run(self, method: str, path: str, params: Params, action: Callable[..., Any],
             fault: Fault | None) -> None:  # fmt: skip
        try:
            status, body, outcome = 200, action(self.fake, params), "ok"
        except ApiError as e:
            status, body, outcome = e.http_status, {"code": e.code, "msg": e.msg}, f"error {e.code}"
        if fault is None:
            self._log_send(method, path, params, outcome, status, body)
        elif fault.kind == "lost":
            self.fake.log(method, path, params, f"{outcome}, answer lost")
            if fault.on_hit is not None:
                fault.on_hit()
            if fault.drop:
                self.close_connection = True
            else:
                self._send(502, "<html><body><h1>502 Bad Gateway</h1></body></html>", "text/html")
        else:  # a timeout after executing: answer too late
            self.fake.log(method, path, params, f"{outcome}, answer late")
            self.fake.sleep(fault.delay_s)
            self._send(status, body)

    def _pre_fault(self, method: str, path: str, params: Params, fault: Fault) -> None:
        self.fake.log(method, path, params, f"fault {fault.kind}")
        if fault.kind == "timeout":
            self.fake.sleep(fault.delay_s)
            self._send(503, {"code": -1007, "msg": "Timeout waiting for response from backend server."})  # fmt: skip
        elif fault.kind == "status":
            self._send(fault.status, "<html><body><h1>Service Unavailable</h1></body></html>",
                       "text/html")  # fmt: skip
        elif fault.kind == "rate_limit":
            headers = {"Retry-After": str(fault.retry_after_s)}
            self._send(429, RATE_LIMIT_BODY, headers=headers)
        else:
            self._send(400, {"code": fault.code, "msg": fault.msg})

    def _log_send(self, method: str, path: str, params: Params, outcome: str, status: int,
                  body: Any) -> None:  # fmt: skip
        self.fake.log(method, path, params, outcome)
        self._send(status, body)

    def _send(self, status: int, body: Any, content_type: str = "application/json",
              headers: dict[str, str] | None = None) -> None:  # fmt: skip
        data = (body if isinstance(body, str) else json.dumps(body)).encode()
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (timeout): nothing to answer


if __name__ == "__main__":  # a server to try the commands by hand: Ctrl-C stops it
    with FakeBinance() as server:
        print(f"fake Binance USDⓈ-M at {server.base_url}")
        print(f"export PERPHEDGE_BINANCE_API_KEY={server.api_key}")
        print(f"export PERPHEDGE_BINANCE_SECRET={server.secret}")
        print("then add --base-url to perphedge hedge/monitor (a hidden option)")
        with contextlib.suppress(KeyboardInterrupt):
            threading.Event().wait()
