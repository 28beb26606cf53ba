"""Paper: keep the hedge alive — replayed days pass a bar at a time, the keeper acts after each.

POST /paper/start (a day) opens a new paper account whose replay starts that day, funded from
the plan (`perphedge.services.paper.restart_paper`, as `paper reset PORTFOLIO --at DAY`), so a
rally of the stored history can be lived through on paper.

POST /paper/keep (days) starts a background job (perphedge.web.jobs) that calls
`perphedge.services.paper_keep.keep_paper` on the paper account with the portfolio's keeper
plan (`perphedge.services.keep.keep_plan`, as `hedge keep` builds it); the page polls
/paper/keep/{job} for the bars done, then shows each top-up, re-size, re-open and alert in
words. The keeper's memory (cooldowns, funding regime) lives as long as the page's server, per
portfolio and paper account, as it does in one `hedge keep` process.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from perphedge.config import PortfolioConfig
from perphedge.dates import parse_day_ms
from perphedge.errors import InputError
from perphedge.instruments import ContractKind
from perphedge.live.keep import KeepPlan
from perphedge.live.session import Ports
from perphedge.report.paper_view import reset_lines
from perphedge.services.keep import keep_plan
from perphedge.services.paper import PaperOpened, PaperReset, restart_paper
from perphedge.services.paper_keep import BAR_HOURS, MAX_DAYS, KeptSpan, keep_paper
from perphedge.store.paths import home_dir
from perphedge.venues.registry import venue
from perphedge.web.jobs import JobState
from perphedge.web.pages.account import Access, access_of, account_session, config_of
from perphedge.web.pages.backtest import jobs_of
from perphedge.web.views import render


class Plans:
    """The keeper's plan per (paper account, portfolio): its memory carries from step to step."""

    def __init__(self) -> None:
        self._plans: dict[tuple[str, PortfolioConfig], KeepPlan] = {}
        self._lock = threading.Lock()

    def get(self, config: PortfolioConfig, ports: Ports, access: Access) -> KeepPlan:
        key = (ports.account_id, config)
        with self._lock:
            if key not in self._plans:
                history, clock = access.adapters.history(), ports.clock
                setup = keep_plan(config, config.name, ports.market, history, clock)
                self._plans[key] = setup.plan
            return self._plans[key]


def _plans(request: Request) -> Plans:
    state = request.app.state
    if not hasattr(state, "keep_plans"):
        state.keep_plans = Plans()
    plans: Plans = state.keep_plans
    return plans


def _days(text: str) -> float:
    try:
        days = float(text)
    except ValueError:
        raise InputError("days", text, "give a number of days, e.g. 7") from None
    if not 0 < days <= MAX_DAYS:
        raise InputError("days", text, f"give more than 0 and at most {MAX_DAYS:g} days")
    return days


def _work(
    config: PortfolioConfig, days: float, access: Access, plans: Plans
) -> Callable[[Callable[[int, int], None]], KeptSpan]:
    def run(tick: Callable[[int, int], None]) -> KeptSpan:
        with account_session(config, True, access) as (ports, session):
            plan = plans.get(config, ports, access)
            return keep_paper(ports, session, plan, days * 24, tick)

    return run


async def start_keeping(request: Request) -> Response:
    """Check the days, start the keeper in the background, answer with its progress."""
    config = config_of(request)
    days = _days(str((await request.form()).get("days", "")).strip())
    job = jobs_of(request).submit(_work(config, days, access_of(request), _plans(request)))
    return render(request, "keep_progress.html", job=job, state=JobState(False, 0.0), days=days)


def keeping_status(request: Request) -> Response:
    job = request.path_params["job"]
    state = jobs_of(request).get(job)
    if state is None:
        raise InputError("job", job, "start keeping again")
    if not state.done:
        return render(request, "keep_progress.html", job=job, state=state)
    if state.error is not None:
        raise state.error  # a PerphedgeError becomes its one line in the page
    config = config_of(request)
    response = render(
        request, "keep_result.html", kept=state.result, policy=config.keeper, bar_hours=BAR_HOURS
    )
    response.headers["HX-Trigger"] = "account-changed"  # the status panel reads the account
    return response


def _restart(config: PortfolioConfig, start_ms: int, access: Access) -> PaperOpened:
    inverse = config.hedge.kind is ContractKind.INVERSE
    request = PaperReset(venue(config.hedge.exchange).name, inverse, start_ms)
    history, clock = access.adapters.history(), access.adapters.clock
    return restart_paper(config, request, history, clock, home_dir())


async def start_paper(request: Request) -> Response:
    """A new paper account whose replay starts on the day given (the old one is deleted; the
    journal keeps its history)."""
    config = config_of(request)
    start_ms = parse_day_ms("start", str((await request.form()).get("start", "")))
    opened = await run_in_threadpool(_restart, config, start_ms, access_of(request))
    response = render(request, "paper_started.html", lines=reset_lines(opened))
    response.headers["HX-Trigger"] = "account-changed"
    return response


ROUTES = [
    Route("/paper/start", start_paper, methods=["POST"]),
    Route("/paper/keep", start_keeping, methods=["POST"]),
    Route("/paper/keep/{job}", keeping_status),
]
