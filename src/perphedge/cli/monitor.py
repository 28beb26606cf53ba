"""`perphedge monitor PORTFOLIO`: a live view of the hedge with alerts (read-only).

Needs only read access (a read-only API key suffices). Alerts go to the terminal, to
PERPHEDGE_HOME/logs/monitor.log and, with --webhook URL (or PERPHEDGE_WEBHOOK_URL), to a webhook
as a JSON POST. In a loop an alert is sent when it first appears, not on every refresh. The loop
never ends on a temporary exchange error: it backs off and, after --alert-after failed
refreshes, alerts "exchange unreachable since ..." (`perphedge.live.watch`). A leg the
exchange's record shows liquidated (and not re-opened since) is alerted in plain words;
`--once` then exits 5.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from perphedge.cli import wiring
from perphedge.cli.accounts import (
    BASE_URL,
    EXCHANGE,
    JSON,
    LIVE_PRICES,
    PORTFOLIO,
    account_name,
    open_ports,
)
from perphedge.clocks import SystemClock
from perphedge.config import load_portfolio
from perphedge.errors import InputError, require_positive
from perphedge.live.liquidations import require_hedged
from perphedge.live.monitor import Snapshot, Thresholds
from perphedge.live.outage import DEFAULT_ALERT_AFTER, Outage
from perphedge.live.watch import AlertSinks, watch
from perphedge.report.monitor_view import monitor_renderables
from perphedge.report.render import console, err_console, print_json
from perphedge.services.monitor import monitor_snapshot
from perphedge.store.journal import Journal
from perphedge.store.paths import home_dir
from perphedge.units import percent_to_fraction

_PAPER = typer.Option(False, "--paper", help="Watch the paper account (offline).")
_INTERVAL = typer.Option(60.0, "--interval", help="Seconds between refreshes.")
_ONCE = typer.Option(False, "--once", help="One snapshot, then exit.")
_WEBHOOK = typer.Option(
    None, "--webhook", envvar="PERPHEDGE_WEBHOOK_URL", help="POST alerts as JSON to this URL."
)
_MAX_DRIFT = typer.Option(
    5.0, "--max-drift", help="Alert above this drift from target, % of the target (5 = 5 %)."
)
_MIN_DISTANCE = typer.Option(
    30.0,
    "--min-liq-distance",
    help="Alert when liquidation is closer than this, % of the mark (30 = 30 %, as in plan).",
)
_ALERT_AFTER = typer.Option(
    DEFAULT_ALERT_AFTER,
    "--alert-after",
    help="Alert 'exchange unreachable' after this many failed refreshes in a row.",
)
_MAX_RATIO = typer.Option(
    50.0, "--max-margin-ratio", help="Alert above this margin ratio, % (50 = 50 %)."
)


def monitor(
    portfolio: Annotated[Path, PORTFOLIO],
    exchange: str | None = EXCHANGE,
    paper: bool = _PAPER,
    live_prices: bool = LIVE_PRICES,
    interval: float = _INTERVAL,
    once: bool = _ONCE,
    json_out: bool = JSON,
    webhook: str | None = _WEBHOOK,
    max_drift: float = _MAX_DRIFT,
    min_liq_distance: float = _MIN_DISTANCE,
    max_margin_ratio: float = _MAX_RATIO,
    alert_after: int = _ALERT_AFTER,
    base_url: str | None = BASE_URL,
) -> None:
    """Watch the hedge: positions, drift, margin, liquidation distance, funding; alert on limits."""
    require_positive("--interval", interval)
    if alert_after < 1:
        raise InputError("--alert-after", alert_after, "give a number of refreshes >= 1")
    if webhook and not webhook.startswith(("http://", "https://")):
        raise InputError("--webhook", "(not shown)", "give an http:// or https:// URL")
    limits = Thresholds(
        percent_to_fraction("--max-drift", max_drift, max_percent=1000.0),
        percent_to_fraction("--min-liq-distance", min_liq_distance),
        percent_to_fraction("--max-margin-ratio", max_margin_ratio),
    )
    config = load_portfolio(portfolio)
    ports = open_ports(config, exchange, paper, base_url, "monitor", live_prices)
    sinks = AlertSinks(home_dir(), config.name, account_name(ports), webhook, _say)
    outage = Outage(account_name(ports), alert_after=1 if once else alert_after)
    with Journal.in_home() as journal:

        def read() -> Snapshot:
            view = monitor_snapshot(
                config, account_name(ports), (ports.market, ports.account, ports.clock), journal,
                limits, account_id=ports.account_id,
            )  # fmt: skip
            for line in view.stale:
                err_console.print(f"warning: stale data: {line}", markup=False, highlight=False)
            return view.snapshot

        def show(snap: Snapshot) -> None:
            if json_out:
                print_json(snap)
            else:
                for item in monitor_renderables(snap):
                    console.print(item, highlight=False)

        last = watch(
            read,
            show,
            limits,
            sinks,
            SystemClock(),
            wiring.current().sleep,
            None if once else interval,
            outage,
        )
    if once:
        require_hedged(last.liquidated)


def _say(line: str) -> None:
    err_console.print(line, markup=False, highlight=False)


def register(app: typer.Typer) -> None:
    app.command("monitor")(monitor)
