"""Plan: what to short, its margin, liquidation, funding in words, the risks and the orders.

The page shows the plan service's result through `perphedge.report.plan_view.plan_dict`, the same
data `perphedge plan --json` prints, so the page and the JSON cannot differ.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from perphedge.report.explain import RISKS, risk_figures
from perphedge.report.plan_view import plan_dict
from perphedge.services.plan import PlanRequest, plan_portfolio
from perphedge.web.views import adapters_of, render, workspace_of


def plan_page(request: Request) -> Response:
    config = workspace_of(request).config
    if config is None:
        return render(request, "no_portfolio.html", active="plan", heading="Plan")
    ports = adapters_of(request)
    planned = plan_portfolio(config, PlanRequest(), ports.history(), ports.clock)
    return render(
        request,
        "plan.html",
        plan=plan_dict(planned.plan, planned.notes, planned.stale, planned.as_of, planned.reserve),
        risks=RISKS,
        risk_numbers=risk_figures(planned.plan),
    )


ROUTES = [Route("/plan", plan_page)]
