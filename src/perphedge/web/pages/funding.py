"""Funding: what holding the short earned or paid on each venue, for the portfolio's own coins.

The funding service reports every venue's carry and ranks them over their common window; the
venues perphedge can trade on are marked. The chart shows each venue's cumulative funding of a
short (thinned, see perphedge.report.thin).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from perphedge.report.funding_chart import CumulativeLine, figure
from perphedge.services.funding import funding_report
from perphedge.web.views import adapters_of, render, workspace_of


def funding_page(request: Request) -> Response:
    """The page at once; its tables follow from /funding/report (reading history takes a while)."""
    config = workspace_of(request).config
    if config is None:
        return render(request, "no_portfolio.html", active="funding", heading="Funding")
    return render(request, "funding.html", charts=True)


def funding_tables(request: Request) -> Response:
    """Rankings and charts for the portfolio's coins (sync: Starlette runs it in a thread)."""
    config = workspace_of(request).config
    if config is None:
        return render(request, "_error_fragment.html", message="no portfolio yet: see Start")
    coins = list(dict.fromkeys(h.hedge_asset for h in config.portfolio.holdings))
    stored = adapters_of(request).market_history(None)
    report = funding_report(stored, coins, [], None, None)
    figures = [
        figure(
            f"{carry.text}: cumulative funding of a short",
            [CumulativeLine(v.key, v.series.ts_ms, v.cumulative_short) for v in carry.venues],
            "+ received by the short, − paid",
        ).to_json()
        for carry in report.symbols
    ]
    yours = config.hedge.exchange.lower()
    return render(request, "funding_tables.html", report=report, figures=figures, yours=yours)


ROUTES = [Route("/funding", funding_page), Route("/funding/report", funding_tables)]
