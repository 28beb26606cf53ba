"""Paper and Live: the hedge on an account — positions, margin, alerts, and orders shown first.

Paper works on the offline paper account (perphedge.services.hedge_run.open_paper): open, keep
(let simulated time pass), rebalance, close. Live reads the real account through the venue's API
(keys from the environment or the OS keyring) and is read-only unless `perphedge ui` was started
with --allow-execute; then it too shows the exact orders and sends only those after a
confirmation. Both refresh their status panel themselves.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from perphedge.config import PortfolioConfig
from perphedge.errors import InputError, SafetyError
from perphedge.exchanges.client import credentials_for
from perphedge.hedge.orders import ExecutionLimits
from perphedge.live.execute import LiveSession, RunOptions
from perphedge.live.monitor import Snapshot
from perphedge.live.session import Ports, live_ports
from perphedge.ports import Balance
from perphedge.services.hedge_run import (
    KINDS,
    HedgePreview,
    HedgeSent,
    account_status,
    advance_paper,
    journal_key,
    open_paper,
    preview_run,
    send_run,
)
from perphedge.services.paper_keep import BAR_HOURS
from perphedge.store.journal import Journal
from perphedge.store.paths import home_dir
from perphedge.venues.registry import venue
from perphedge.web.state import Adapters
from perphedge.web.views import adapters_of, launch_of, render, workspace_of

LIMITS = ExecutionLimits(100_000.0, 10_000.0, 0.002, 120_000, 5.0, False)
PAPER_OPTIONS = RunOptions(poll_interval_s=0.2, order_timeout_s=5.0)
LIVE_OPTIONS = RunOptions()
KEEP_DAYS = 7  # the keeper's first suggestion of days to advance
KIND_LABELS = {"open": "Open the hedge…", "rebalance": "Rebalance…", "close": "Close the hedge…"}


@dataclass(frozen=True)
class Shown:
    """A preview the page showed, kept until it is sent or replaced."""

    config: PortfolioConfig
    paper: bool
    preview: HedgePreview


@dataclass(frozen=True)
class Access:
    """How this launch reaches accounts: its adapters, and the exchange API for Live (None:
    the venue's own; `perphedge ui --base-url` points it at a local test exchange)."""

    adapters: Adapters
    live_base_url: str | None


def access_of(request: Request) -> Access:
    return Access(adapters_of(request), request.app.state.live_base_url)


def _live(config: PortfolioConfig, base_url: str | None) -> Ports:
    name = venue(config.hedge.exchange).name
    if credentials_for(name) is None:
        raise InputError(
            f"PERPHEDGE_{name.upper()}_API_KEY",
            None,
            f"set it and PERPHEDGE_{name.upper()}_SECRET (a read-only key is enough to watch), "
            "or store them in the OS keyring, then restart perphedge ui",
        )
    return live_ports(name, base_url, config.hedge.contract)


@contextmanager
def account_session(
    config: PortfolioConfig, paper: bool, access: Access
) -> Iterator[tuple[Ports, LiveSession]]:
    if paper:
        ports = open_paper(config, home_dir(), access.adapters.history(), access.adapters.clock)
    else:
        ports = _live(config, access.live_base_url)
    with Journal.in_home() as journal:
        yield ports, LiveSession(
            journal_key(ports), ports.account, ports.execution, ports.market, ports.clock,
            journal, home_dir(), PAPER_OPTIONS if paper else LIVE_OPTIONS,
        )  # fmt: skip


def config_of(request: Request) -> PortfolioConfig:
    config = workspace_of(request).config
    if config is None:
        raise InputError("portfolio", None, "fill in the Start page first")
    return config


def _paper(request: Request) -> bool:
    return request.url.path.startswith("/paper")


def _may_send(request: Request) -> None:
    if not _paper(request) and not launch_of(request).allow_execute:
        raise SafetyError(
            "this page was started without --allow-execute: it cannot send orders to a real "
            "account (restart with perphedge ui --allow-execute)"
        )


def account_page(request: Request) -> Response:
    paper = _paper(request)
    name = "paper" if paper else "live"
    if workspace_of(request).config is None:
        return render(request, "no_portfolio.html", active=name, heading=name.capitalize())
    return render(
        request, "account.html", active=name, paper=paper, kinds=KIND_LABELS, base=f"/{name}",
        bar_hours=BAR_HOURS, keep_days=KEEP_DAYS,
    )  # fmt: skip


def _status(
    config: PortfolioConfig, paper: bool, access: Access
) -> tuple[Snapshot, list[Balance], tuple[str, ...]]:
    with account_session(config, paper, access) as (ports, session):
        snap = account_status(config, session)
        return snap, list(ports.account.balances()), ports.notes


def status_panel(request: Request) -> Response:
    """Time, equity, margin, positions and alerts (the panel polls this)."""
    snap, balances, notes = _status(config_of(request), _paper(request), access_of(request))
    return render(request, "account_status.html", snap=snap, balances=balances, notes=notes)


def _preview(config: PortfolioConfig, paper: bool, kind: str, access: Access) -> HedgePreview:
    with account_session(config, paper, access) as (_, session):
        return preview_run(config, kind, session, LIMITS)


async def account_preview(request: Request) -> Response:
    _may_send(request)
    config, paper = config_of(request), _paper(request)
    kind = str((await request.form()).get("kind", ""))
    if kind not in KINDS:
        raise InputError("kind", kind, f"use one of {', '.join(KINDS)}")
    preview = await run_in_threadpool(_preview, config, paper, kind, access_of(request))
    key = secrets.token_urlsafe(12)
    request.app.state.previews = {key: Shown(config, paper, preview)}  # the latest only
    where = "the paper account" if paper else f"{config.hedge.exchange} (REAL MONEY)"
    base = "/paper" if paper else "/live"
    return render(request, "account_preview.html", preview=preview, key=key, where=where,
                  paper=paper, base=base)  # fmt: skip


def _send(shown: Shown, access: Access) -> HedgeSent:
    with account_session(shown.config, shown.paper, access) as (_, session):
        return send_run(shown.config, shown.preview, session, LIMITS, shown.config.name)


async def account_send(request: Request) -> Response:
    _may_send(request)
    key = str((await request.form()).get("preview", ""))
    shown = getattr(request.app.state, "previews", {}).pop(key, None)
    if shown is None or shown.paper != _paper(request):
        raise InputError("preview", key or None, "show the orders again, then send them")
    sent = await run_in_threadpool(_send, shown, access_of(request))
    response = render(request, "account_sent.html", sent=sent)
    response.headers["HX-Trigger"] = "account-changed"
    return response


def _advance(config: PortfolioConfig, hours: float, access: Access) -> None:
    with account_session(config, True, access) as (ports, _):
        advance_paper(ports, hours)


async def paper_advance(request: Request) -> Response:
    config = config_of(request)
    text = str((await request.form()).get("hours", "")).strip()
    try:
        hours = float(text)
    except ValueError:
        raise InputError("hours", text, "give a number of hours, e.g. 24") from None
    if not 0 < hours <= 720:
        raise InputError("hours", text, "give more than 0 and at most 720 hours")
    await run_in_threadpool(_advance, config, hours, access_of(request))
    response = render(request, "_message.html", message=f"{hours:g} hours passed on paper.")
    response.headers["HX-Trigger"] = "account-changed"
    return response


def _routes(base: str, extra: list[Route]) -> list[Route]:
    handlers: list[tuple[str, Callable[..., object], list[str]]] = [
        ("", account_page, ["GET"]),
        ("/status", status_panel, ["GET"]),
        ("/preview", account_preview, ["POST"]),
        ("/send", account_send, ["POST"]),
    ]
    return [Route(base + path, fn, methods=m) for path, fn, m in handlers] + extra


ROUTES = [
    *_routes("/paper", [Route("/paper/advance", paper_advance, methods=["POST"])]),
    *_routes("/live", []),
]
