"""`perphedge demo`: the main job on bundled data — plan and stress the example portfolios.

The examples live in perphedge/data/examples: `portfolio.toml` (BTC + ETH, linear, 5x),
`portfolio_proxy.toml` (an alt hedged through the BTC perpetual at a beta) and
`portfolio_inverse.toml` (coin-margined shorts backed by the coins). Prices are written in the
files; funding rates come from the bundled real sample in the local market store.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

import typer
from rich.rule import Rule

from perphedge.cli import wiring
from perphedge.config import load_portfolio
from perphedge.funding import SIGN_RULE
from perphedge.hedge.stress import StressSpec
from perphedge.report.plan_view import plan_renderables, stress_renderables
from perphedge.report.render import console
from perphedge.services.plan import PlanRequest, stress_portfolio

EXAMPLES = ("portfolio.toml", "portfolio_proxy.toml", "portfolio_inverse.toml")


def example_path(name: str) -> Path:
    """A bundled example portfolio file."""
    return Path(str(resources.files("perphedge") / "data" / "examples" / name))


def _show(name: str, stress_it: bool) -> None:
    path = example_path(name)
    cfg = load_portfolio(path)
    console.print(Rule(f"perphedge plan {name}"))
    ports = wiring.current()
    outcome = stress_portfolio(cfg, PlanRequest(), StressSpec(), ports.history(), ports.clock)
    planned = outcome.planned
    for item in plan_renderables(planned.plan, planned.notes, planned.stale):
        console.print(item)
    if stress_it:
        console.print(Rule(f"perphedge stress {name}"))
        leverage = outcome.planned.plan.spec.leverage
        for item in stress_renderables(outcome.stress, outcome.safe_leverage, leverage):
            console.print(item)


def demo() -> None:
    """Plan and stress the bundled example portfolios (linear, proxy, coin-margined)."""
    console.print(f"Funding sign: {SIGN_RULE}.")
    for name in EXAMPLES:
        _show(name, stress_it=name != "portfolio_proxy.toml")
    console.print(
        f"Examples: {example_path('')} — copy one, edit it, and run "
        "perphedge plan FILE / perphedge stress FILE --plot stress.html"
    )


def register(app: typer.Typer) -> None:
    app.command("demo")(demo)
