"""Templates: one Jinja environment over the package's templates, with the number filters.

Numbers are formatted by the same helpers as the terminal tables (`perphedge.report.render`), and
signed cash is put into words by `perphedge.report.explain`, so the page and the CLI agree.
"""

from __future__ import annotations

from typing import Any

from jinja2 import Environment, PackageLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse

from perphedge import __version__
from perphedge.portfolio_toml import shown
from perphedge.report import explain
from perphedge.report.render import fmt_num, fmt_pct, iso_time
from perphedge.web.security import Launch
from perphedge.web.state import Adapters, Workspace

PAGES = (
    ("start", "Start", "/"),
    ("plan", "Plan", "/plan"),
    ("stress", "Stress", "/stress"),
    ("funding", "Funding", "/funding"),
    ("backtest", "Backtest", "/backtest"),
    ("paper", "Paper", "/paper"),
    ("live", "Live", "/live"),
    ("glossary", "Glossary", "/glossary"),
)

ENV = Environment(
    loader=PackageLoader("perphedge.web", "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
ENV.filters["num"] = fmt_num
ENV.filters["pct"] = fmt_pct
ENV.filters["g"] = lambda value: f"{value:g}"
ENV.filters["shown"] = shown
ENV.filters["day"] = lambda ts_ms: iso_time(int(ts_ms))[:10]
ENV.filters["iso"] = lambda ts_ms: iso_time(int(ts_ms))
ENV.filters["cash_words"] = explain.cash_words
ENV.filters["signed"] = explain.signed_usd
ENV.globals["explain"] = explain.EXPLAIN
ENV.globals["keeper_actions"] = explain.KEEPER_ACTIONS
ENV.globals["version"] = __version__


def launch_of(request: Request) -> Launch:
    launch: Launch = request.app.state.launch
    return launch


def adapters_of(request: Request) -> Adapters:
    adapters: Adapters = request.app.state.adapters
    return adapters


def workspace_of(request: Request) -> Workspace:
    workspace: Workspace = request.app.state.workspace
    return workspace


def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
    """A whole page (or, for htmx requests of a fragment template, just the fragment)."""
    launch = launch_of(request)
    workspace = workspace_of(request)
    html = ENV.get_template(template).render(
        pages=PAGES,
        csrf_token=launch.csrf_token,
        allow_execute=launch.allow_execute,
        workspace=workspace,
        portfolio=workspace.config,
        **context,
    )
    return HTMLResponse(html, status_code=status, headers={"cache-control": "no-store"})
