"""Monitor service: one snapshot of the hedge against its targets, with alerts and stale marks.

The targets are the plan's at the venue's marks (perphedge.services.targets), the snapshot reads
the account and the market once (perphedge.live.monitor.snapshot), and the alerts are the limits
it crosses, with every leg lost to a confirmed liquidation and not re-opened since
(perphedge.live.liquidations.unhedged, the lookup `hedge keep` and `hedge check` make).
`new_alerts` are those not in `seen` (a loop sends an alert once until it clears).
A mark older than `stale_days` is said in `stale`.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from perphedge.config import PortfolioConfig
from perphedge.live.liquidations import unhedged
from perphedge.live.monitor import Alert, Snapshot, Thresholds, alerts_for, snapshot
from perphedge.ports import Account, Clock, MarketData
from perphedge.services.inputs import STALE_DAYS, AsOf, stale_warnings
from perphedge.services.targets import hedge_targets
from perphedge.store.journal import Journal


@dataclass(frozen=True)
class MonitorView:
    """A snapshot with its alerts, the alerts new since the last one, and stale-mark warnings."""

    snapshot: Snapshot
    new_alerts: tuple[Alert, ...]
    stale: tuple[str, ...]

    @property
    def seen(self) -> set[tuple[str, str]]:
        """What to pass as `seen` next time."""
        return {(a.code, a.subject) for a in self.snapshot.alerts}


def monitor_snapshot(
    config: PortfolioConfig,
    account_key: str,
    ports: tuple[MarketData, Account, Clock],
    journal: Journal,
    limits: Thresholds,
    seen: frozenset[tuple[str, str]] = frozenset(),
    stale_days: float = STALE_DAYS,
    account_id: str | None = None,
) -> MonitorView:
    """Snapshot `config`'s hedge on the account (`account_key` names it; `account_id` keys its
    funding in the journal, default `account_key`)."""
    market, account, clock = ports
    targets = hedge_targets(config, market).targets
    now_ms = clock.now_ms()
    snap = snapshot(config, account_key, targets, account, market, journal, now_ms, account_id)
    symbols = [t.symbol for t in targets]
    lost, _ = unhedged(account, journal, account_id or account_key, symbols)
    snap = replace(snap, liquidated=lost)
    alerts = alerts_for(snap, limits)
    snap = replace(snap, alerts=alerts)
    marks = tuple(
        AsOf(f"{t.symbol} mark", "the venue", market.mark_price(t.symbol).ts_ms) for t in targets
    )
    new = tuple(a for a in alerts if (a.code, a.subject) not in seen)
    return MonitorView(snap, new, stale_warnings(marks, now_ms, stale_days))
