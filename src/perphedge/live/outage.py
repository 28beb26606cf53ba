"""Staying up through an exchange outage: backoff, and one alert when it lasts.

A long-running loop (`monitor`, `hedge keep`) asks the exchange once per interval. When a
step fails with a temporary exchange error, `Outage.failed` counts it and says how long to wait
before trying again (doubling from `base_delay_s`, never longer than the interval). After
`alert_after` failed steps in a row it returns one alert, "exchange unreachable since <time>",
for the terminal, the log and the webhook; the first good step after that returns "reachable
again". The loop itself never ends on a temporary error.
"""

from __future__ import annotations

from dataclasses import dataclass

from perphedge import units
from perphedge.live.monitor import Alert

DEFAULT_ALERT_AFTER = 3


def utc_text(ts_ms: int) -> str:
    return units.utc_text(ts_ms, "%Y-%m-%d %H:%M:%S UTC")


@dataclass
class Outage:
    """The state of an outage across loop steps (see the module docstring)."""

    exchange: str
    alert_after: int = DEFAULT_ALERT_AFTER
    base_delay_s: float = 1.0
    since_ms: int | None = None
    failures: int = 0
    alerted: bool = False

    def failed(self, now_ms: int, error: Exception) -> Alert | None:
        """Count one failed step; the unreachable alert once `alert_after` were missed."""
        if self.since_ms is None:
            self.since_ms = now_ms
        self.failures += 1
        if self.failures < self.alert_after or self.alerted:
            return None
        self.alerted = True
        return Alert(
            "unreachable",
            self.exchange,
            f"exchange unreachable since {utc_text(self.since_ms)} ({self.failures} failed "
            f"attempts; last error: {' '.join(str(error).split())[:200]})",
        )

    def recovered(self, now_ms: int) -> Alert | None:
        """The step succeeded: the all-clear when an unreachable alert was sent."""
        alert = None
        if self.alerted and self.since_ms is not None:
            minutes = (now_ms - self.since_ms) / 60_000
            alert = Alert(
                "reachable",
                self.exchange,
                f"exchange reachable again after {minutes:.1f} min "
                f"(unreachable since {utc_text(self.since_ms)})",
            )
        self.since_ms, self.failures, self.alerted = None, 0, False
        return alert

    def delay_s(self, interval_s: float) -> float:
        """Wait before the next try: doubling from `base_delay_s` while failing, at most the
        interval; the interval when all is well."""
        if self.failures == 0:
            return interval_s
        return min(interval_s, self.base_delay_s * 2.0 ** (self.failures - 1))
