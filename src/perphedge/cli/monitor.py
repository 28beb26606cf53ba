"""`perphedge monitor PORTFOLIO`: a live view of the hedge with alerts (read-only).

Needs only read access (a read-only API key suffices). Alerts go to the terminal, to
PERPHEDGE_HOME/logs/monitor.log and, with --webhook URL (or PERPHEDGE_WEBHOOK_URL), to a webhook
as a JSON POST. In a loop an alert is sent when it first appears, not on every refresh.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from perphedge.cli.hedge import (
    BASE_URL,
    EXCHANGE,
    JSON,
    LIVE_PRICES,
    PORTFOLIO,
    account_name,
    open_ports,
)
from perphedge.config import PortfolioConfig, load_portfolio
from perphedge.errors import InputError
from perphedge.live.monitor import (
    Alert,
    Snapshot,
    Thresholds,
    log_alerts,
    post_webhook,
)
from perphedge.live.session import Ports
from perphedge.report.monitor_view import monitor_renderables
from perphedge.report.render import (
    console,
    err_console,
    print_json,
)
from perphedge.services.monitor import monitor_snapshot
from perphedge.store.journal import Journal
from perphedge.store.paths import home_dir
from perphedge.units import percent_to_fraction


def _deliver(home: Path, snap: Snapshot, alerts: tuple[Alert, ...], webhook: str | None) -> None:
    if not alerts:
        return
    log_alerts(home, snap, alerts)
    if webhook:
        problem = post_webhook(webhook, snap, alerts)
        if problem:
            err_console.print(f"warning: {problem}", highlight=False)


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
    base_url: str | None = BASE_URL,
) -> None:
    """Watch the hedge: positions, drift, margin, liquidation distance, funding; alert on limits."""
    if interval <= 0:
        raise InputError("--interval", interval, "give a number of seconds > 0")
    if webhook and not webhook.startswith(("http://", "https://")):
        raise InputError("--webhook", "(not shown)", "give an http:// or https:// URL")
    config = load_portfolio(portfolio)
    ports = open_ports(config, exchange, paper, base_url, "monitor", live_prices)
    limits = Thresholds(
        percent_to_fraction("--max-drift", max_drift, max_percent=1000.0),
        percent_to_fraction("--min-liq-distance", min_liq_distance),
        percent_to_fraction("--max-margin-ratio", max_margin_ratio),
    )
    with Journal.in_home() as journal:
        _watch(config, ports, journal, limits, webhook, json_out, None if once else interval)


def _watch(
    config: PortfolioConfig,
    ports: Ports,
    journal: Journal,
    limits: Thresholds,
    webhook: str | None,
    json_out: bool,
    interval: float | None,
) -> None:
    """Snapshot, alert on what newly crossed a limit, show; repeat every `interval` s (None: once)."""
    seen: frozenset[tuple[str, str]] = frozenset()
    while True:
        view = monitor_snapshot(
            config, account_name(ports), (ports.market, ports.account, ports.clock), journal,
            limits, seen, account_id=ports.account_id,
        )  # fmt: skip
        _deliver(home_dir(), view.snapshot, view.new_alerts, webhook)
        seen = frozenset(view.seen)
        for line in view.stale:
            err_console.print(f"warning: stale data: {line}", markup=False, highlight=False)
        if json_out:
            print_json(view.snapshot)
        else:
            for item in monitor_renderables(view.snapshot):
                console.print(item, highlight=False)
        if interval is None:
            return
        time.sleep(interval)


def register(app: typer.Typer) -> None:
    app.command("monitor")(monitor)
