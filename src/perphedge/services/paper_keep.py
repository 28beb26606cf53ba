"""Keep the paper hedge alive through replayed history: one keeper step per bar.

`keep_paper(ports, session, plan, control, hours)` moves the paper account's simulated clock
forward one bar (`BAR_HOURS`, the replay's price interval) at a time and, after each bar, runs
the step `hedge keep --paper --execute` runs every interval
(`perphedge.services.keep.executed_step`): margin moved from the reserve, shorts re-sized or re-opened, alerts raised.
When the stored prices end before the time asked, it stops there and says so; the bars already
kept stay kept. `tick(n, total)` says n more of the total bars are done.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

from perphedge.errors import DataError, InputError
from perphedge.live.execute import LiveSession
from perphedge.live.keep import KeepPlan, KeepStep
from perphedge.live.session import Ports
from perphedge.services import paper as paper_service
from perphedge.services.keep import executed_step, margin_mover

BAR_HOURS = 8.0  # the replayed marks' interval: one keeper step per bar
MAX_DAYS = 90.0


@dataclass(frozen=True)
class KeptBar:
    """One bar: the simulated time after it and what the keeper found, decided and did."""

    now_ms: int
    step: KeepStep


@dataclass(frozen=True)
class KeptSpan:
    """Every bar kept, and why it stopped early (None: all the time asked passed)."""

    bars: tuple[KeptBar, ...]
    ended_early: str | None

    @property
    def acted(self) -> tuple[KeptBar, ...]:
        """The bars on which the keeper did something or raised an alert."""
        return tuple(b for b in self.bars if b.step.decision.actions or b.step.alerts)

    @property
    def counts(self) -> dict[str, int]:
        """How many actions of each kind (ActionKind values), in the order they first came."""
        counts: dict[str, int] = {}
        for bar in self.bars:
            for action in bar.step.decision.actions:
                counts[action.kind.value] = counts.get(action.kind.value, 0) + 1
        return counts


def keep_paper(
    ports: Ports,
    session: LiveSession,
    plan: KeepPlan,
    hours: float,
    tick: Callable[[int, int], None] = lambda n, total: None,
) -> KeptSpan:
    """Let `hours` of replayed time pass on the paper account, a keeper step after each bar."""
    if not (math.isfinite(hours) and 0 < hours <= MAX_DAYS * 24):
        raise InputError("days", hours / 24, f"give more than 0 and at most {MAX_DAYS:g} days")
    parts = paper_service.paper_parts(ports)
    control = margin_mover(ports)
    total = math.ceil(hours / BAR_HOURS)
    tick(0, total)
    bars: list[KeptBar] = []
    for _ in range(total):
        try:
            now_ms = paper_service.advance_paper(*parts, BAR_HOURS)
        except DataError as ended:
            return KeptSpan(tuple(bars), str(ended))
        bars.append(KeptBar(now_ms, executed_step(session, plan, control)))
        tick(1, total)
    return KeptSpan(tuple(bars), None)
