"""Serve recorded exchange bodies to the unmodified ccxt client from 127.0.0.1, and note proofs.

`RecordedServer(routes)` answers `METHOD /path` (query ignored) with the recorded JSON body for
that route; every request is kept in `.requests` (method, path, query, body) so tests can check
what ccxt sent. Unknown routes answer 404 and are listed in `.unknown`.

`connect(ccxt_id, server)` builds the ccxt exchange with every API base URL pointed at the
server and fake credentials (signing runs, nothing leaves the machine).

`proves(venue, *capabilities)` marks a test as the recorded proof of those capabilities, and
`disproves` a test showing ccxt claims them but does not deliver; the registry test compares the
unions with `Venue.proven` / `Venue.disproven` in perphedge.venues.registry.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import ccxt

from perphedge.venues.registry import Capability

VENUE_DATA = Path(__file__).resolve().parents[1].parent / "shared" / "data" / "venues"
LOCAL_FIXTURES = Path(__file__).resolve().parent / "fixtures" / "venues"

PROOFS: set[tuple[str, Capability]] = set()
DISPROOFS: set[tuple[str, Capability]] = set()


def proves(venue: str, *capabilities: Capability) -> Callable[[Any], Any]:
    """Register the decorated test as the recorded-response proof of `capabilities`."""

    def mark(test: Any) -> Any:
        PROOFS.update((venue, cap) for cap in capabilities)
        return test

    return mark


def disproves(venue: str, *capabilities: Capability) -> Callable[[Any], Any]:
    """Register the decorated test as showing ccxt claims `capabilities` but does not deliver."""

    def mark(test: Any) -> Any:
        DISPROOFS.update((venue, cap) for cap in capabilities)
        return test

    return mark


def recorded(venue: str, name: str) -> Any:
    """A recorded body from ../shared/data/venues/<venue>/<name> (or tests/fixtures/venues)."""
    path = VENUE_DATA / venue / name
    if not path.exists():
        path = LOCAL_FIXTURES / venue / name
    return json.loads(path.read_text())


def ccxt_case(venue: str, method: str, description: str) -> dict[str, Any]:
    """One case of a transcribed ccxt static fixture (`ccxt_<venue>_response_subset.json`)."""
    data = recorded(venue, f"ccxt_{venue}_response_subset.json")
    for case in data["methods"][method]:
        if case["description"] == description:
            return dict(case)
    raise KeyError(f"{venue} {method} {description!r}")


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    body: str


Body = Any | Callable[[Request], Any]


@dataclass
class RecordedServer:
    routes: Mapping[str, Body]
    requests: list[Request] = field(default_factory=list)
    unknown: list[str] = field(default_factory=list)

    def __enter__(self) -> RecordedServer:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def _answer(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length).decode() if length else ""
                req = Request(self.command, parts.path, parse_qs(parts.query), body)
                server.requests.append(req)
                route = server.routes.get(f"{self.command} {parts.path}")
                if route is None:
                    server.unknown.append(f"{self.command} {parts.path}")
                    self._send(404, {"code": 404, "msg": f"no recording for {parts.path}"})
                    return
                self._send(200, route(req) if callable(route) else route)

            def _send(self, status: int, payload: Any) -> None:
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_DELETE = do_PUT = _answer  # noqa: N815

            def log_message(self, *args: Any) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(target=self._httpd.serve_forever, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()

    @property
    def base(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def sent(self, method: str, path: str) -> list[Request]:
        return [r for r in self.requests if r.method == method and r.path == path]


def _rebase(value: Any, base: str) -> Any:
    if isinstance(value, str) and value.startswith("https://"):
        rest = value[len("https://") :]
        return base + ("/" + rest.split("/", 1)[1] if "/" in rest else "")
    if isinstance(value, dict):
        return {k: _rebase(v, base) for k, v in value.items()}
    return value


def connect(ccxt_id: str, server: RecordedServer, **options: Any) -> Any:
    """The unmodified ccxt exchange `ccxt_id`, talking to `server` with fake credentials."""
    exchange = getattr(ccxt, ccxt_id)(
        {
            "apiKey": "test-key",
            "secret": "test-secret",
            "password": "test-pass",
            "timeout": 3000,
            "enableRateLimit": False,  # a local server: no need to pace requests
            "options": {"fetchCurrencies": False, **options},
        }
    )
    exchange.urls["api"] = _rebase(exchange.urls["api"], server.base)
    return exchange


@dataclass
class Venue:
    """A running server plus a connected ccxt exchange with markets loaded."""

    server: RecordedServer
    exchange: Any


def open_venue(ccxt_id: str, routes: Mapping[str, Body], **options: Any) -> Iterator[Venue]:
    """Generator for a pytest fixture: start the server, connect, load markets, stop."""
    with RecordedServer(routes) as server:
        exchange = connect(ccxt_id, server, **options)
        exchange.load_markets()
        yield Venue(server, exchange)


def adapter(venue_name: str, server: RecordedServer) -> tuple[Any, Any]:
    """perphedge's own adapter (CcxtMarketData, CcxtAccount) on `server`, fake credentials."""
    from perphedge.exchanges.ccxt_account import CcxtAccount
    from perphedge.exchanges.client import Credentials, make_exchange
    from perphedge.exchanges.market_data import CcxtMarketData

    exchange = make_exchange(
        venue_name, base_url=server.base, credentials=Credentials("k", "s", "p"), timeout_ms=3000
    )
    exchange.enableRateLimit = False  # a local server: no need to pace requests
    market_data = CcxtMarketData(venue_name, exchange=exchange, sleep=lambda s: None, attempts=1)
    return market_data, CcxtAccount(exchange, sleep=lambda s: None, attempts=1)
