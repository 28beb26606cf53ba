"""Tables, JSON and chart of `perphedge funding`: the carry of a short hedge per venue."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import RenderableType
from rich.text import Text

from perphedge.carry import (
    MIN_COMMON_DAYS,
    MS_PER_DAY,
    SHORT_SIDE_NOTE,
    CarryStats,
    VenueCarry,
    VenueComparison,
    Window,
)
from perphedge.funding import SIGN_RULE, describe_for_short
from perphedge.report.explain import EXPLAIN
from perphedge.report.render import fmt_pct, fmt_rate, jsonable, table
from perphedge.services.funding import FundingReport, SymbolCarry
from perphedge.units import utc_text


def _day(ts_ms: int) -> str:
    return utc_text(ts_ms, "%Y-%m-%d")


def _time(ts_ms: int) -> str:
    return utc_text(ts_ms, "%Y-%m-%d %H:%M")


def _window_json(window: Window | None) -> dict[str, Any] | None:
    if window is None:
        return None
    return {
        "total": window.total,
        "start": _time(window.start_ms),
        "end": _time(window.end_ms),
        "settlements": window.count,
    }


def _stats_json(stats: CarryStats) -> dict[str, Any]:
    out: dict[str, Any] = jsonable(stats)
    out["first"], out["last"] = _time(stats.first_ms), _time(stats.last_ms)
    for name in ("worst_1d", "worst_7d", "longest_negative_streak"):
        out[name] = _window_json(getattr(stats, name))
    return out


def _row_json(row: VenueCarry) -> dict[str, Any]:
    out: dict[str, Any] = jsonable(row)
    out["first"], out["last"] = _time(row.first_ms), _time(row.last_ms)
    return out


def _not_comparable(row: VenueCarry) -> str:
    """Why a venue stands beside the ranking, with its own period."""
    period = f"from {_time(row.first_ms)} to {_time(row.last_ms)}"
    count = f"{row.n_intervals} settlement{'' if row.n_intervals == 1 else 's'}"
    if row.last_ms - row.first_ms < MIN_COMMON_DAYS * MS_PER_DAY:
        return f"not comparable: only {count} {period}"
    return (
        f"not comparable: {count} {period} overlap the others by less than {MIN_COMMON_DAYS} days"
    )


def _comparison_json(cmp: VenueComparison) -> dict[str, Any]:
    aside = [{**_row_json(row), "note": _not_comparable(row)} for row in cmp.set_aside]
    return {
        "common_window": cmp.common,
        "since": _time(cmp.since_ms),
        "until": _time(cmp.until_ms),
        "ranking": [_row_json(row) for row in cmp.ranking],
        "not_comparable": aside,
    }


def funding_json(report: FundingReport) -> dict[str, Any]:
    """The report as JSON-ready data (rates as fractions; times 'YYYY-MM-DD HH:MM' UTC)."""
    since_ms, until_ms = report.since_ms, report.until_ms
    symbols: dict[str, Any] = {}
    for res in report.symbols:
        venues = {}
        for v in res.venues:
            overall = v.report.overall
            entry = {"exchange": v.exchange, "symbol": v.symbol, **_stats_json(overall)}
            entry["on_average"] = describe_for_short(overall.mean_rate)
            entry["by_year"] = {str(y): s.apr for y, s in v.report.by_year.items()}
            entry["years"] = {str(y): _stats_json(s) for y, s in v.report.by_year.items()}
            entry["perphedge_can_hedge_here"] = v.exchange in report.tradable
            venues[v.key] = entry
        symbols[res.text] = {
            "venues": venues,
            "comparison": _comparison_json(res.comparison),
            "skipped_venues": list(res.skipped),
        }
    return {
        "sign_rule": SIGN_RULE,
        "note": SHORT_SIDE_NOTE,
        "since": None if since_ms is None else _time(since_ms),
        "until_exclusive": None if until_ms is None else _time(until_ms),
        "symbols": symbols,
    }


def _streak(window: Window | None) -> str:
    if window is None:
        return "none"
    return f"{window.count} from {_day(window.start_ms)}"


def _worst(window: Window | None) -> str:
    return "—" if window is None else f"{fmt_pct(window.total, 3)} to {_day(window.end_ms)}"


def _stats_cells(stats: CarryStats) -> list[str]:
    return [
        f"{stats.n_intervals} × {stats.interval_hours:g}h",
        fmt_rate(stats.mean_rate, stats.interval_hours),
        fmt_pct(stats.apr),
        fmt_pct(stats.negative_share, 1),
        _worst(stats.worst_1d),
        _worst(stats.worst_7d),
        _streak(stats.longest_negative_streak),
    ]


STATS_HEADERS = [
    "settlements",
    "mean rate/interval",
    "APR",
    "negative",
    "worst 1 day",
    "worst 7 days",
    "longest negative run",
]


def funding_renderables(report: FundingReport) -> list[RenderableType]:
    """The sign rule, per symbol a table per venue and year, and the venue ranking."""
    out: list[RenderableType] = [
        Text(f"Sign rule: {SIGN_RULE}."),
        Text(
            "All figures are for the SHORT hedge: + funding received, - funding paid (fraction "
            "of notional); worst = most negative cumulative short-side funding."
        ),
    ]
    for res in report.symbols:
        rows = [
            [v.key, v.symbol, f"{_day(s.first_ms)} → {_day(s.last_ms)}", *_stats_cells(s)]
            for v in res.venues
            for s in (v.report.overall,)
        ]
        out.append(
            table(
                f"{res.text}: funding carry of a short hedge",
                ["venue", "symbol", "period", *STATS_HEADERS],
                rows,
            )
        )
        for v in res.venues:
            years = [[str(y), *_stats_cells(s)] for y, s in v.report.by_year.items()]
            out.append(
                table(
                    f"{res.text} on {v.key}, by calendar year (UTC)",
                    ["year", *STATS_HEADERS],
                    years,
                )
            )
        out += _comparison(res, report.tradable)
    return out


def _comparison_cells(row: VenueCarry, tradable: frozenset[str]) -> list[str]:
    venue = row.venue.split(" ")[0]
    return [
        f"{row.venue} *" if venue in tradable else row.venue,
        fmt_pct(row.apr),
        fmt_pct(row.negative_share, 1),
        "—" if row.worst_7d is None else fmt_pct(row.worst_7d, 3),
        str(row.n_intervals),
    ]


def _comparison(res: SymbolCarry, tradable: frozenset[str]) -> list[RenderableType]:
    cmp = res.comparison
    window = f"{_day(cmp.since_ms)} → {_day(cmp.until_ms)}"
    scope = "common window" if cmp.common else f"{cmp.ranking[0].venue}'s own history"
    headers = ["rank", "venue", "APR earned by short", "negative", "worst 7 days", "settlements"]
    rows = [
        [str(rank), *_comparison_cells(row, tradable)]
        for rank, row in enumerate(cmp.ranking, start=1)
    ]
    if cmp.set_aside:  # every other venue with data, beside the ranking, over its own period
        headers.append("note")
        rows = [[*row, ""] for row in rows]
        rows += [
            ["—", *_comparison_cells(row, tradable), _not_comparable(row)] for row in cmp.set_aside
        ]
    title = f"{res.text}: where this hedge is cheapest to hold ({scope} {window}; best first)"
    out: list[RenderableType] = [
        table(title, headers, rows),
        Text("* perphedge can open the hedge on this venue (perphedge exchanges)"),
    ]
    if res.skipped:
        out.append(Text(f"no data in the range on: {', '.join(res.skipped)}"))
    return out


def write_funding_chart(path: Path, report: FundingReport) -> Path:
    """Cumulative short-side funding of every venue and symbol, with the rankings, to FILE.html."""
    from perphedge.report.funding_chart import CumulativeLine, figure, write_chart
    from perphedge.report.page import table_html

    lines = [
        CumulativeLine(f"{res.text} {v.key}", v.series.ts_ms, v.cumulative_short)
        for res in report.symbols
        for v in res.venues
    ]
    title = "Cumulative funding of a short perpetual hedge"
    inputs = (
        ("coins", ", ".join(res.text for res in report.symbols)),
        ("venues", ", ".join(sorted({v.exchange for r in report.symbols for v in r.venues}))),
        (
            "period",
            f"{_when(report.since_ms, 'all stored')} to {_when(report.until_ms, 'the end')}",
        ),
        ("sign", SIGN_RULE),
    )
    headers = ["rank", "venue", "APR earned by short", "negative", "worst 7 days", "settlements"]
    tables = "".join(
        f"<h2>{res.text}: where the short is cheapest to hold</h2>"
        + table_html(
            headers,
            [
                [str(rank), *_comparison_cells(row, report.tradable)]
                for rank, row in enumerate(res.comparison.ranking, start=1)
            ],
        )
        for res in report.symbols
    )
    explanations = (
        ("cumulative funding", "What a short of 1 USD received (+) or paid (-) in funding since "
         "the start of the line, as a share of its size."),
        ("APR earned by short", EXPLAIN["apr"]),
        ("negative", EXPLAIN["share_negative"]),
        ("worst 7 days", EXPLAIN["worst_7d"]),
        ("*", "perphedge can open the hedge on this venue"),
    )  # fmt: skip
    fig = figure(title, lines, f"{SIGN_RULE}; + received, - paid")
    return write_chart(path, fig, title, inputs, explanations, tables)


def _when(ts_ms: int | None, default: str) -> str:
    return default if ts_ms is None else _day(ts_ms)
