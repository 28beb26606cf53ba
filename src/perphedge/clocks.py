"""Clocks implementing the `perphedge.ports.Clock` port: the wall clock and a manual one."""

from __future__ import annotations

import time
from dataclasses import dataclass

HOUR_MS = 3_600_000


class SystemClock:
    """Wall-clock time."""

    def now_ms(self) -> int:
        return int(time.time() * 1000)


@dataclass
class ManualClock:
    """A clock that moves only when told (tests, simulations)."""

    now: int

    def now_ms(self) -> int:
        return self.now

    def advance(self, hours: float) -> None:
        self.now += int(hours * HOUR_MS)
