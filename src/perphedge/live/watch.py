"""The monitor loop: snapshot, alert on what newly crossed a limit, show; through outages.

`watch(read, ...)` calls `read()` (one `perphedge.live.monitor.snapshot`) every `interval_s`
seconds, or once when `interval_s` is None. Alerts go to every sink (`AlertSinks`: the log
file, the webhook, the terminal) when they first appear, not on every refresh. A temporary
exchange error never ends the loop: `perphedge.live.outage.Outage` backs off and, after
`alert_after` failed steps, sends "exchange unreachable since ..." to every sink. Once
(`interval_s` None; give an `Outage` with `alert_after=1`), an unreachable exchange is alerted
at once and the error is raised (exit 4); else the snapshot is returned.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from perphedge.errors import TemporaryExchangeError
from perphedge.live.monitor import Alert, Snapshot, Thresholds, alerts_for, log_alerts, post_webhook
from perphedge.live.outage import Outage
from perphedge.ports import Clock


@dataclass(frozen=True)
class AlertSinks:
    """Where alerts go: PERPHEDGE_HOME/logs/monitor.log, an optional webhook, and `say` (the
    terminal; also told when the webhook fails)."""

    home: Path
    portfolio: str
    exchange: str
    webhook: str | None
    say: Callable[[str], None]

    def deliver(self, ts_ms: int, alerts: Sequence[Alert], echo: bool = False) -> None:
        if not alerts:
            return
        log_alerts(self.home, ts_ms, self.exchange, alerts)
        if echo:
            for alert in alerts:
                self.say(f"ALERT {alert.code} {alert.subject}: {alert.message}")
        if self.webhook:
            problem = post_webhook(self.webhook, self.portfolio, self.exchange, ts_ms, alerts)
            if problem:
                self.say(f"warning: {problem}")


def watch(
    read: Callable[[], Snapshot],
    show: Callable[[Snapshot], None],
    limits: Thresholds,
    sinks: AlertSinks,
    clock: Clock,
    sleep: Callable[[float], None],
    interval_s: float | None,
    outage: Outage,
) -> Snapshot:
    """Run the loop (see the module docstring); once, return its snapshot."""
    seen: set[tuple[str, str]] = set()
    while True:
        try:
            snap = read()
        except TemporaryExchangeError as bad:
            now = clock.now_ms()
            alert = outage.failed(now, bad)
            sinks.deliver(now, [alert] if alert else [], echo=True)
            if interval_s is None:
                raise
            sleep(outage.delay_s(interval_s))
            continue
        back = outage.recovered(clock.now_ms())
        sinks.deliver(snap.ts_ms, [back] if back else [], echo=True)
        alerts = alerts_for(snap, limits)
        snap = replace(snap, alerts=alerts)
        sinks.deliver(snap.ts_ms, [a for a in alerts if (a.code, a.subject) not in seen])
        seen = {(a.code, a.subject) for a in alerts}
        show(snap)
        if interval_s is None:
            return snap
        sleep(interval_s)
