"""Who may talk to the local page: a per-launch token, a Host check and CSRF protection.

The server listens on 127.0.0.1 only, but any web page the user visits could still send
requests there, and a DNS-rebinding page could even read the answers. So every request must:

* carry `Host: 127.0.0.1:PORT` or `localhost:PORT` (a rebound name such as evil.example is
  refused: 403);
* prove it knows the launch's secret token: `?token=...` on the first visit (answered with a
  cookie and a redirect that drops the token from the address bar), the cookie afterwards
  (HttpOnly, SameSite=Strict); without it: 403;
* if it changes something (any method but GET/HEAD), send the CSRF token in the `X-CSRF-Token`
  header (the page's htmx attaches it) and, when the browser says where it comes from, an
  `Origin` of this very server.

Every answer gets a Content-Security-Policy that allows scripts only from this server, so the
page runs offline and nothing is loaded from the internet.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from http.cookies import SimpleCookie
from urllib.parse import parse_qsl, urlencode

from starlette.types import ASGIApp, Message, Receive, Scope, Send

SAFE_METHODS = frozenset({"GET", "HEAD"})
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data: blob:; connect-src 'self'; font-src 'self' data:; "
    "frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
)


@dataclass(frozen=True)
class Launch:
    """One run of `perphedge ui`: where it listens and its secret token (never reused)."""

    port: int
    token: str = field(default_factory=lambda: secrets.token_urlsafe(24), repr=False)
    allow_execute: bool = False

    @property
    def csrf_token(self) -> str:
        """Derived from the secret, so it changes with every launch."""
        return hmac.new(self.token.encode(), b"csrf", hashlib.sha256).hexdigest()[:32]

    @property
    def cookie_name(self) -> str:
        return f"perphedge_token_{self.port}"  # cookies ignore ports: one name per server

    @property
    def hosts(self) -> frozenset[str]:
        return frozenset({f"127.0.0.1:{self.port}", f"localhost:{self.port}"})

    @property
    def origin(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def url(self) -> str:
        """What the user opens: the address with the token."""
        return f"{self.origin}/?token={self.token}"


def _headers(scope: Scope) -> dict[str, str]:
    return {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}


def _same(given: str | None, secret: str) -> bool:
    return given is not None and hmac.compare_digest(given.encode(), secret.encode())


class SecurityMiddleware:
    """Host check, token (query or cookie), CSRF on unsafe methods, security headers."""

    def __init__(self, app: ASGIApp, launch: Launch) -> None:
        self.app = app
        self.launch = launch

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self.app(scope, receive, send)
            return
        if scope["type"] != "http":  # no websockets
            return
        headers = _headers(scope)
        refusal = self._refusal(scope, headers)
        if refusal is not None:
            await _plain(send, 403, refusal)
            return
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        if "token" in query and scope["method"] in SAFE_METHODS:
            await self._welcome(scope, query, send)
            return
        await self.app(scope, receive, _with_headers(send))

    def _refusal(self, scope: Scope, headers: dict[str, str]) -> str | None:
        """Why this request is refused, or None."""
        if headers.get("host", "") not in self.launch.hosts:
            return "host not allowed: open the address perphedge ui printed"
        query = dict(parse_qsl(scope.get("query_string", b"").decode("latin-1")))
        cookie = SimpleCookie(headers.get("cookie", "")).get(self.launch.cookie_name)
        has_token = _same(query.get("token"), self.launch.token) or _same(
            cookie.value if cookie else None, self.launch.token
        )
        if not has_token:
            return "no valid token: open the address perphedge ui printed (it ends ?token=...)"
        if scope["method"] in SAFE_METHODS:
            return None
        origin = headers.get("origin")
        if origin is not None and origin not in {f"http://{h}" for h in self.launch.hosts}:
            return "cross-site request refused"
        if not _same(headers.get("x-csrf-token"), self.launch.csrf_token):
            return "missing or wrong CSRF token: reload the page"
        return None

    async def _welcome(self, scope: Scope, query: dict[str, str], send: Send) -> None:
        """First visit: set the cookie and redirect to the same address without the token."""
        rest = urlencode({k: v for k, v in query.items() if k != "token"})
        location = scope["path"] + (f"?{rest}" if rest else "")
        cookie = f"{self.launch.cookie_name}={self.launch.token}; Path=/; HttpOnly; SameSite=Strict"
        await send(
            {
                "type": "http.response.start",
                "status": 303,
                "headers": [
                    (b"location", location.encode("latin-1")),
                    (b"set-cookie", cookie.encode("latin-1")),
                    *_SECURITY_HEADERS,
                ],
            }
        )
        await send({"type": "http.response.body", "body": b""})


_SECURITY_HEADERS = [
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"no-referrer"),
]


def _with_headers(send: Send) -> Send:
    async def wrapped(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), *_SECURITY_HEADERS]}
        await send(message)

    return wrapped


async def _plain(send: Send, status: int, text: str) -> None:
    body = f"perphedge: {text}\n".encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"text/plain; charset=utf-8"),
                (b"content-length", str(len(body)).encode()),
                *_SECURITY_HEADERS,
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
