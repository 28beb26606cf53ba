"""Long requests (a backtest) run in one background thread; the page polls for them.

`Jobs.submit` returns an id at once; `Jobs.get` says whether the job is running (with its elapsed
seconds), failed (its PerphedgeError) or done (its result). One worker: a second backtest waits
for the first, so the page never loads the machine with more than one run.
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

KEEP = 20  # finished jobs kept for the page to read


@dataclass(frozen=True)
class JobState:
    """A job as the page sees it."""

    done: bool
    elapsed_s: float
    result: Any = None
    error: BaseException | None = None


class Jobs:
    def __init__(self) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="perphedge-job")
        self._jobs: dict[str, tuple[Future[Any], float]] = {}
        self._ids = itertools.count(1)

    def submit(self, work: Callable[[], Any]) -> str:
        job_id = str(next(self._ids))
        self._jobs[job_id] = (self._pool.submit(work), time.monotonic())
        for old in list(self._jobs)[:-KEEP]:
            if self._jobs[old][0].done():
                del self._jobs[old]
        return job_id

    def get(self, job_id: str) -> JobState | None:
        found = self._jobs.get(job_id)
        if found is None:
            return None
        future, started = found
        elapsed = time.monotonic() - started
        if not future.done():
            return JobState(False, elapsed)
        error = future.exception()
        return JobState(True, elapsed, None if error else future.result(), error)

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
