"""Long requests (a backtest) run in one background thread; the page polls for them.

`Jobs.submit(work)` returns an id at once and calls `work(tick)`, where `tick(n, total)` says n
more of `total` units (a backtest: bars simulated) are done. `Jobs.get` says whether the job is
running (its units done of the total, once known, and the elapsed seconds), failed (its
PerphedgeError) or done (its result). One worker: a second backtest waits for the first, so the
page never loads the machine with more than one run.
"""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

KEEP = 20  # finished jobs kept for the page to read
Tick = Callable[[int, int], None]


@dataclass(frozen=True)
class JobState:
    """A job as the page sees it (`total` None: it has not said how much work there is)."""

    done: bool
    elapsed_s: float
    result: Any = None
    error: BaseException | None = None
    units_done: int = 0
    total: int | None = None


class _Progress:
    """Units done of the total, as the worker thread reports them."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.units_done, self.total = 0, None  # type: int, int | None

    def tick(self, n: int, total: int) -> None:
        with self._lock:
            self.units_done, self.total = min(self.units_done + n, total), total

    def read(self) -> tuple[int, int | None]:
        with self._lock:
            return self.units_done, self.total


class Jobs:
    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="perphedge-job")
        self._jobs: dict[str, tuple[Future[Any], float, _Progress]] = {}
        self._ids = itertools.count(1)

    def submit(self, work: Callable[[Tick], Any]) -> str:
        job_id = str(next(self._ids))
        progress = _Progress()
        future = self._pool.submit(work, progress.tick)
        self._jobs[job_id] = (future, time.monotonic(), progress)
        for old in list(self._jobs)[:-KEEP]:
            if self._jobs[old][0].done():
                del self._jobs[old]
        return job_id

    def get(self, job_id: str) -> JobState | None:
        found = self._jobs.get(job_id)
        if found is None:
            return None
        future, started, progress = found
        elapsed = time.monotonic() - started
        units_done, total = progress.read()
        if not future.done():
            return JobState(False, elapsed, units_done=units_done, total=total)
        error = future.exception()
        result = None if error else future.result()
        return JobState(True, elapsed, result, error, units_done, total)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
