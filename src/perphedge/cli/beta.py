"""`perphedge beta ASSET... --vs BTC`: minimum-variance hedge ratio and hedge effectiveness.

Options -> perphedge.services.beta.estimate_betas -> perphedge.report.beta_view.
"""

from __future__ import annotations

from typing import Annotated

import typer

from perphedge.beta import CiMethod
from perphedge.cli import wiring
from perphedge.cli.market_args import parse_days
from perphedge.cli.options import choice
from perphedge.dates import parse_day_ms
from perphedge.report.beta_view import beta_json, beta_renderables
from perphedge.report.render import console, print_json
from perphedge.services.beta import BetaRequest, check_returns_fit, estimate_betas


def beta(
    assets: Annotated[list[str], typer.Argument(metavar="ASSET...", help="ETH, SOL, ETH/USDT ...")],
    vs: str = typer.Option("BTC", "--vs", help="Hedge instrument's coin or symbol."),
    window: str = typer.Option("365d", "--window", help="Look-back, e.g. 365d, 26w, 2y."),
    interval: str = typer.Option("1d", "--interval", help="Return interval: 1d, 3d, 1w ..."),
    ewma_halflife: float | None = typer.Option(
        None, "--ewma-halflife", help="EWMA half-life in return intervals (default: equal weights)."
    ),
    until: str | None = typer.Option(
        None, "--until", help="Last day, YYYY-MM-DD (default: latest)."
    ),
    exchange: str = typer.Option("binance", "--exchange", "-e", help="Venue of both price series."),
    asset_kind: str = typer.Option("spot", "--asset-kind", help="spot, perp or mark"),
    hedge_kind: str = typer.Option("mark", "--hedge-kind", help="spot, perp or mark"),
    ci: str = typer.Option("block-bootstrap", "--ci", help="block-bootstrap or fisher-z"),
    ci_level: float = typer.Option(0.95, "--ci-level", help="Confidence level, e.g. 0.95."),
    seed: int = typer.Option(0, "--seed", help="Bootstrap seed (results are reproducible)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
) -> None:
    """Minimum-variance hedge ratio (OLS beta) of each ASSET against the --vs perpetual.

    Also the hedge effectiveness (variance removed), with confidence intervals for both.
    """
    window_days = parse_days("--window", window)
    interval_days = parse_days("--interval", interval)
    check_returns_fit(interval, interval_days, window, window_days)
    req = BetaRequest(
        vs=vs,
        window_days=window_days,
        interval_days=interval_days,
        exchange=exchange.strip().lower(),
        asset_kind=asset_kind,
        hedge_kind=hedge_kind,
        ewma_halflife=ewma_halflife,
        until_ms=None if until is None else parse_day_ms("--until", until, end_of_day=True),
        ci_method=choice(CiMethod, "--ci", ci),
        ci_level=ci_level,
        seed=seed,
    )
    rows = estimate_betas(wiring.current().history(), tuple(assets), req)
    if as_json:
        print_json(beta_json(rows, req))
    else:
        for item in beta_renderables(rows, req):
            console.print(item)


def register(app: typer.Typer) -> None:
    app.command(name="beta")(beta)
