"""The local page as a Starlette app: routes -> services -> templates.

`create_app(launch, workspace)` wires the pages (one module each in `perphedge.web.pages`), the
package's static files (htmx, the stylesheet, the page script) and plotly.js, served once from the
plotly package's own file so that no page inlines it and nothing comes from the internet. Every
request passes `perphedge.web.security.SecurityMiddleware` first.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from perphedge.errors import PerphedgeError
from perphedge.web.jobs import Jobs
from perphedge.web.pages import account, backtest, funding, glossary, keeping, plan, start, stress
from perphedge.web.security import Launch, SecurityMiddleware
from perphedge.web.state import Adapters, Workspace
from perphedge.web.views import render


def plotly_js_path() -> Path:
    """plotly.min.js as shipped inside the plotly package."""
    return Path(str(resources.files("plotly") / "package_data" / "plotly.min.js"))


async def _plotly_js(request: Request) -> Response:
    return FileResponse(
        plotly_js_path(),
        media_type="text/javascript",
        headers={"cache-control": "private, max-age=86400"},
    )


async def _error(request: Request, exc: Exception) -> Response:
    """A perphedge error: its one line in the page (status 400/409/502), or, for an htmx
    request, in the part of the page that asked (htmx swaps only 2xx answers)."""
    assert isinstance(exc, PerphedgeError)
    message = " ".join(str(exc).split())
    if request.headers.get("hx-request"):
        return render(request, "_error_fragment.html", message=message)
    status = 400 if exc.exit_code == 2 else 409 if exc.exit_code == 3 else 502
    return render(request, "error.html", status=status, message=message)


def routes() -> list[BaseRoute]:
    pages: list[BaseRoute] = []
    for module in (start, plan, stress, funding, backtest, account, keeping, glossary):
        pages += module.ROUTES
    return [
        *pages,
        Route("/static/plotly.min.js", _plotly_js),
        Mount("/static", StaticFiles(packages=[("perphedge.web", "static")]), name="static"),
    ]


def create_app(
    launch: Launch,
    adapters: Adapters,
    workspace: Workspace | None = None,
    live_base_url: str | None = None,
) -> Starlette:
    """The app for one launch; `workspace` holds the current portfolio (empty by default);
    `live_base_url` sends the Live page's API calls elsewhere (a local test exchange)."""
    app = Starlette(
        routes=routes(),
        middleware=[Middleware(SecurityMiddleware, launch=launch)],
        exception_handlers={PerphedgeError: _error},
    )
    app.state.launch = launch
    app.state.workspace = workspace or Workspace()
    app.state.adapters = adapters
    app.state.jobs = Jobs()
    app.state.live_base_url = live_base_url
    return app
