"""The page's background jobs carry the progress their work reports."""

from __future__ import annotations

import threading

from perphedge.web.jobs import Jobs


def test_a_job_shows_its_units_while_it_runs() -> None:
    jobs = Jobs()
    halfway, finish = threading.Event(), threading.Event()

    def work(tick) -> str:
        tick(0, 300)
        tick(100, 300)
        halfway.set()
        finish.wait(10)
        tick(200, 300)
        return "done"

    job = jobs.submit(work)
    assert halfway.wait(10)
    running = jobs.get(job)
    assert running is not None and not running.done
    assert (running.units_done, running.total) == (100, 300)
    finish.set()
    for _ in range(200):
        state = jobs.get(job)
        if state is not None and state.done:
            break
        threading.Event().wait(0.05)
    assert state is not None and state.done and state.result == "done"
    assert (state.units_done, state.total) == (300, 300)
    jobs.close()
