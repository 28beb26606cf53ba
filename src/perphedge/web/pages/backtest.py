"""Backtest: wired to the services layer (perphedge.services)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from perphedge.web.views import render


async def backtest_page(request: Request) -> Response:
    return render(request, "no_portfolio.html", active="backtest", heading="Backtest")


ROUTES = [Route("/backtest", backtest_page)]
