"""Backtest: the portfolio unhedged, hedged and under chosen policies on stored history.

The run goes to a background job (perphedge.web.jobs); the page polls it and shows the bars
simulated of the total, as the backtest service reports them, until it is done; then the
metrics, each explained, and the curves.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from perphedge.dates import parse_day_ms
from perphedge.errors import InputError
from perphedge.report.backtest_view import ROWS, backtest_title, chart_runs, run_notes
from perphedge.report.explain import EXPLAIN
from perphedge.report.html import backtest_figure
from perphedge.services.backtest import BacktestOutcome, BacktestRequest, run_backtests
from perphedge.web.jobs import Jobs, JobState
from perphedge.web.views import adapters_of, render, workspace_of

POLICIES = (
    ("keeper", "keep the short alive: top up its margin from a reserve (your [keeper] settings)"),
    ("band", "re-size when the short drifts more than 2 % from its target"),
    ("funding", "cut the short while funding is negative"),
    ("vol", "hedge more while prices swing a lot"),
    ("schedule", "re-size every 7 days"),
)
DEFAULTS = {"since": "2022-01-01", "until": "2024-06-30", "leverage": "", "top_up": ""}


def jobs_of(request: Request) -> Jobs:
    jobs: Jobs = request.app.state.jobs
    return jobs


def backtest_page(request: Request) -> Response:
    config = workspace_of(request).config
    if config is None:
        return render(request, "no_portfolio.html", active="backtest", heading="Backtest")
    return render(request, "backtest.html", form=DEFAULTS, policies=POLICIES, charts=True)


def _request(form: dict[str, str], chosen: list[str]) -> BacktestRequest:
    since = parse_day_ms("from", form.get("since", ""))
    until = parse_day_ms("to", form.get("until", ""))
    if since >= until:
        raise InputError("from", form.get("since"), "give a day before the 'to' day")
    text = form.get("leverage", "").strip()
    try:
        leverage = float(text) if text else None
    except ValueError:
        raise InputError("leverage", text, "give a number such as 2, or leave it empty") from None
    return BacktestRequest(
        since, until, tuple(chosen), leverage=leverage, top_up=form.get("top_up") == "on"
    )


async def start_run(request: Request) -> Response:
    """Check the form, start the run in the background and answer with the progress view."""
    config = workspace_of(request).config
    if config is None:
        return render(request, "_error_fragment.html", message="no portfolio yet: see Start")
    data = await request.form()
    form = {k: str(v) for k, v in data.items() if k != "policy"}
    chosen = [str(p) for p in data.getlist("policy") if str(p) in dict(POLICIES)]
    spec = _request(form, chosen)
    stored = adapters_of(request).market_history(None)
    job = jobs_of(request).submit(lambda tick: run_backtests(config, spec, stored, tick))
    return render(request, "backtest_progress.html", job=job, state=JobState(False, 0.0))


def _result(request: Request, outcome: BacktestOutcome, state: JobState) -> Response:
    runs = list(outcome.runs)
    title = backtest_title(outcome.prep, outcome.settings)
    times = outcome.prep.market.times_ms
    figure = backtest_figure(title, times, chart_runs(runs))
    rows = [
        (label, key, [fmt(run.summary[key]) for run in runs], EXPLAIN.get(key, ""))
        for label, key, fmt in ROWS
    ]
    notes = run_notes(outcome.prep, runs, outcome.preventions)
    return render(
        request,
        "backtest_result.html",
        title=title,
        names=[run.name for run in runs],
        rows=rows,
        notes=notes,
        gaps=[g.describe() for g in outcome.prep.aligned.gaps],
        figure_json=figure.to_json(),
        state=state,
    )


def job_status(request: Request) -> Response:
    state = jobs_of(request).get(request.path_params["job"])
    if state is None:
        raise InputError("job", request.path_params["job"], "start the backtest again")
    if not state.done:
        return render(
            request, "backtest_progress.html", job=request.path_params["job"], state=state
        )
    if state.error is not None:
        raise state.error  # a PerphedgeError becomes its one line in the page
    return _result(request, state.result, state)


ROUTES = [
    Route("/backtest", backtest_page),
    Route("/backtest/run", start_run, methods=["POST"]),
    Route("/backtest/job/{job}", job_status),
]
