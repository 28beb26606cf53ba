"""`perphedge funding SYMBOL...`: what holding the short hedge earns or pays in funding, per venue.

Reads the local market store (the bundled real sample until `data sync` adds to it), computes the
carry statistics of perphedge.carry per symbol and venue, overall and by calendar year, ranks the
venues over their common window and optionally draws cumulative funding.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import numpy as np
import typer

from perphedge.carry import (
    MIN_COMMON_DAYS,
    MS_PER_DAY,
    SHORT_SIDE_NOTE,
    CarryReport,
    CarryStats,
    RateSeries,
    VenueCarry,
    VenueComparison,
    Window,
    carry_report,
    compare_venues,
    short_funding,
)
from perphedge.cli.market_args import check_exchanges, date_range, funding_markets
from perphedge.errors import DataError
from perphedge.exchanges.capabilities import require_for
from perphedge.funding import SIGN_RULE, describe_for_short
from perphedge.report.funding_chart import CumulativeLine, figure, write_chart
from perphedge.report.render import console, fmt_pct, jsonable, print_json, table
from perphedge.store.market import Coverage, MarketStore
from perphedge.symbols import symbol_pattern
from perphedge.venues.registry import VENUES


@dataclass(frozen=True)
class VenueCarryResult:
    """One venue's perpetual: its carry report and the series it came from."""

    key: str  # the venue name, or "venue symbol" when a venue lists several matches
    exchange: str
    symbol: str
    report: CarryReport
    series: RateSeries


@dataclass(frozen=True)
class SymbolCarry:
    """Every venue's carry for one requested symbol and their ranking."""

    text: str
    venues: tuple[VenueCarryResult, ...]
    comparison: VenueComparison
    skipped: tuple[str, ...]  # venues holding this symbol but nothing in the range


def _day(ts_ms: int) -> str:
    return datetime.fromtimestamp(ts_ms / 1000, UTC).strftime("%Y-%m-%d")


def _time(ts_ms: int) -> str:
    return datetime.fromtimestamp(ts_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M")


def _in_range(cov: Coverage, since_ms: int | None, until_ms: int | None) -> bool:
    return (since_ms is None or cov.last_ts_ms >= since_ms) and (
        until_ms is None or cov.first_ts_ms < until_ms
    )


def _symbol_carry(
    store: MarketStore,
    coverage: list[Coverage],
    text: str,
    exchanges: list[str],
    since_ms: int | None,
    until_ms: int | None,
) -> SymbolCarry:
    markets = funding_markets(symbol_pattern(text), exchanges, coverage)
    spans = {(c.exchange, c.symbol): c for c in coverage if c.dataset == "funding"}
    names = [ex for ex, _ in markets]
    results, skipped = [], []
    for exchange, symbol in markets:
        if not _in_range(spans[(exchange, symbol)], since_ms, until_ms) and not exchanges:
            skipped.append(exchange)
            continue
        try:
            fs = store.funding(exchange, symbol, since_ms, until_ms)
        except DataError:
            if exchanges:  # asked for by name: say why it is missing
                raise
            skipped.append(exchange)
            continue
        key = exchange if names.count(exchange) == 1 else f"{exchange} {symbol}"
        series = RateSeries(fs.ts_ms, fs.rate, fs.interval_hours)
        results.append(VenueCarryResult(key, exchange, symbol, carry_report(series), series))
    if not results:
        raise DataError(
            f"no funding for {text} in the chosen range on {', '.join(sorted(set(names)))}; "
            "widen --since/--until (run without them to see the stored period of each venue)"
        )
    comparison = compare_venues({r.key: r.series for r in results})
    return SymbolCarry(text, tuple(results), comparison, tuple(skipped))


def funding(
    symbols: Annotated[
        list[str], typer.Argument(metavar="SYMBOL...", help="BTC, BTCUSDT or BTC/USDT:USDT")
    ],
    exchange: Annotated[
        list[str] | None,
        typer.Option(
            "--exchange", "-e", help="Venue(s), repeat or comma-separate (default: every venue)."
        ),
    ] = None,
    since: str | None = typer.Option(None, "--since", help="First day, YYYY-MM-DD (UTC)."),
    until: str | None = typer.Option(None, "--until", help="Last day, included, YYYY-MM-DD."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of tables."),
    plot: str | None = typer.Option(
        None, "--plot", help="Write cumulative funding to FILE.html (self-contained) or .png."
    ),
) -> None:
    """Funding carry of a SHORT perpetual hedge per venue, and where it is cheapest to hold.

    Mean rate, APR, negative share, worst days, longest negative streak, by year; venues ranked.
    """
    since_ms, until_ms = date_range(since, until)
    store = MarketStore()
    coverage = store.available()
    names = [n for item in exchange or [] for n in item.split(",") if n.strip()]
    for name in names:  # a registered venue must serve funding history (perphedge exchanges)
        if name.strip().lower() in VENUES:
            require_for("funding", name)
    venues = check_exchanges(names, coverage, "funding")
    results = [_symbol_carry(store, coverage, s, venues, since_ms, until_ms) for s in symbols]
    if plot is not None:
        _write_plot(Path(plot), results)
    if as_json:
        print_json(_as_json(results, since_ms, until_ms))
    else:
        _print_tables(results)
    if plot is not None and not as_json:
        console.print(f"chart written to {plot}")


# ----------------------------------------------------------------------------- output


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


def _as_json(
    results: list[SymbolCarry], since_ms: int | None, until_ms: int | None
) -> dict[str, Any]:
    symbols: dict[str, Any] = {}
    for res in results:
        venues = {}
        for v in res.venues:
            overall = v.report.overall
            entry = {"exchange": v.exchange, "symbol": v.symbol, **_stats_json(overall)}
            entry["on_average"] = describe_for_short(overall.mean_rate)
            entry["by_year"] = {str(y): s.apr for y, s in v.report.by_year.items()}
            entry["years"] = {str(y): _stats_json(s) for y, s in v.report.by_year.items()}
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
        fmt_pct(stats.mean_rate, 4),
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


def _print_tables(results: list[SymbolCarry]) -> None:
    console.print(f"Sign rule: {SIGN_RULE}.", highlight=False)
    console.print(
        "All figures are for the SHORT hedge: + funding received, - funding paid (fraction of "
        "notional); worst = most negative cumulative short-side funding.",
        highlight=False,
    )
    for res in results:
        rows = [
            [v.key, v.symbol, f"{_day(s.first_ms)} → {_day(s.last_ms)}", *_stats_cells(s)]
            for v in res.venues
            for s in (v.report.overall,)
        ]
        console.print(
            table(
                f"{res.text}: funding carry of a short hedge",
                ["venue", "symbol", "period", *STATS_HEADERS],
                rows,
            )
        )
        for v in res.venues:
            years = [[str(y), *_stats_cells(s)] for y, s in v.report.by_year.items()]
            console.print(
                table(
                    f"{res.text} on {v.key}, by calendar year (UTC)",
                    ["year", *STATS_HEADERS],
                    years,
                )
            )
        _print_comparison(res)


def _comparison_cells(row: VenueCarry) -> list[str]:
    return [
        row.venue,
        fmt_pct(row.apr),
        fmt_pct(row.negative_share, 1),
        "—" if row.worst_7d is None else fmt_pct(row.worst_7d, 3),
        str(row.n_intervals),
    ]


def _print_comparison(res: SymbolCarry) -> None:
    cmp = res.comparison
    window = f"{_day(cmp.since_ms)} → {_day(cmp.until_ms)}"
    scope = "common window" if cmp.common else f"{cmp.ranking[0].venue}'s own history"
    headers = ["rank", "venue", "APR earned by short", "negative", "worst 7 days", "settlements"]
    rows = [[str(rank), *_comparison_cells(row)] for rank, row in enumerate(cmp.ranking, start=1)]
    if cmp.set_aside:  # every other venue with data, beside the ranking, over its own period
        headers.append("note")
        rows = [[*row, ""] for row in rows]
        rows += [["—", *_comparison_cells(row), _not_comparable(row)] for row in cmp.set_aside]
    title = f"{res.text}: where this hedge is cheapest to hold ({scope} {window}; best first)"
    console.print(table(title, headers, rows))
    if res.skipped:
        console.print(f"no data in the range on: {', '.join(res.skipped)}", highlight=False)


def _write_plot(path: Path, results: list[SymbolCarry]) -> None:
    lines = [
        CumulativeLine(
            f"{res.text} {v.key}",
            v.series.ts_ms,
            np.cumsum(short_funding(v.series.rate)),
        )
        for res in results
        for v in res.venues
    ]
    title = "Cumulative funding of a short perpetual hedge"
    write_chart(path, figure(title, lines, f"{SIGN_RULE}; + received, - paid"))


def register(app: typer.Typer) -> None:
    app.command(name="funding")(funding)
