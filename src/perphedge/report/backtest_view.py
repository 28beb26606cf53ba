"""Backtest runs as a terminal table, JSON and the HTML page.

A run is a name ("unhedged", "hedged", or the policy's name) with its headline figures
(`BacktestResult.summary()`; for the unhedged run the same metrics of the unhedged equity, with
zero hedge costs) and, for the page, its curves.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
from rich.table import Table

from perphedge import metrics
from perphedge.backtest.data import fmt_ms
from perphedge.backtest.prevention import SAFER_LEVERAGES, KeptAlive, Prevention
from perphedge.backtest.result import BacktestResult
from perphedge.report.explain import EXPLAIN
from perphedge.report.html import ChartRun, MetricsTable
from perphedge.report.render import fmt_num, fmt_pct, table
from perphedge.services.backtest import Prepared, Run, RunSettings


def _pct(v: float | int) -> str:
    return fmt_pct(float(v))


def _usd(v: float | int) -> str:
    return fmt_num(float(v))


def _count(v: float | int) -> str:
    return f"{int(v):,}"


def _days(v: float | int) -> str:
    return f"{float(v):,.1f}"


ROWS: tuple[tuple[str, str, Callable[[float | int], str]], ...] = (
    ("total return", "total_return", _pct),
    ("annualised volatility", "volatility", _pct),
    ("max drawdown", "max_drawdown", _pct),
    ("worst month", "worst_month", _pct),
    ("VaR 95 % (1 day)", "var_95", _pct),
    ("CVaR 95 % (1 day)", "cvar_95", _pct),
    ("hedge effectiveness", "hedge_effectiveness", _pct),
    ("funding P&L (USD)", "funding_pnl", _usd),
    ("fees (USD)", "fees", _usd),
    ("basis P&L (USD)", "basis_pnl", _usd),
    ("liquidations", "liquidations", _count),
    ("margin lost (USD)", "margin_lost", _usd),
    ("liquidation loss (USD)", "liquidation_loss", _usd),
    ("top-ups (USD)", "top_ups", _usd),
    ("spot sold (USD)", "spot_sold_usd", _usd),
    ("spot fees (USD)", "spot_fees", _usd),
    ("funding switches", "funding_switches", _count),
    ("re-opens", "reopens", _count),
    ("days unhedged", "days_unhedged", _days),
    ("share of time hedged", "share_hedged", _pct),
    ("upside given up", "upside_given_up", _pct),
    ("trades", "trades", _count),
    ("final equity (USD)", "final_equity", _usd),
)


def metrics_table(runs: Sequence[Run]) -> MetricsTable:
    """Metric rows x run columns, formatted, each metric explained in plain words."""
    rows = tuple((label, *(fmt(run.summary[key]) for run in runs)) for label, key, fmt in ROWS)
    words = tuple(EXPLAIN[key] for _, key, _ in ROWS)
    return MetricsTable(("metric", *(run.name for run in runs)), rows, words)


def _param(value: object) -> str:
    return (
        f"{value:g}"
        if isinstance(value, float | int) and not isinstance(value, bool)
        else str(value)
    )


def backtest_inputs(
    prep: Prepared, settings: RunSettings, runs: Sequence[Run]
) -> list[tuple[str, str]]:
    """What went into the backtest, for the report's Inputs section."""
    config, t = prep.config, prep.market.times_ms
    holdings = ", ".join(f"{h.qty_base:g} {h.asset}" for h in config.portfolio.holdings)
    policies = "; ".join(
        run.name
        + (
            f" ({', '.join(f'{k}={_param(v)}' for k, v in run.params.items())})"
            if run.params
            else ""
        )
        for run in runs
    )
    return [
        ("portfolio", f"{config.name}: {holdings}"),
        ("hedge", f"{config.hedge.exchange} {prep.kind.value}, {settings.leverage:g}x, "
                  f"ratio {config.hedge.ratio:g}"),
        ("period", f"{fmt_ms(int(t[0]))} to {fmt_ms(int(t[-1]))} ({t.size} bars of "
                   f"{prep.bar_ms / 3_600_000:g} h)"),
        ("starting cash", f"{fmt_num(runs[-1].result.spec.initial_cash_usd)} USD"),
        ("runs", policies),
        ("costs", f"exchange fees and {settings.slippage_bp:g} bp slippage per trade; "
                  f"{settings.spot_fee_bp:g} bp spot fee on coins sold; top-up "
                  f"{'on' if settings.top_up else 'off'}"),
    ]  # fmt: skip


def rich_table(title: str, runs: Sequence[Run]) -> Table:
    data = metrics_table(runs)
    return table(title, list(data.headers), data.rows)


def _leg(values: np.ndarray, i: int) -> float:
    """Leg i's entry of a per-leg array that a run may leave empty (0 then)."""
    return float(values[i]) if values.size else 0.0


def legs(result: BacktestResult) -> list[dict[str, Any]]:
    """Per-leg totals of a hedged run; `liquidated_at` is the bar time (UTC) or None."""
    out = []
    for i, leg in enumerate(result.spec.legs):
        bar = int(result.leg_liquidation_bar[i])
        out.append(
            {
                "leg": leg.name,
                "funding_pnl": float(result.leg_funding_usd[i]),
                "fees": float(result.leg_fees_usd[i]),
                "basis_pnl": float(result.leg_basis_usd[i]),
                "liquidation_loss": float(result.leg_liquidation_loss_usd[i]),
                "margin_lost": _leg(result.leg_margin_lost_usd, i),
                "top_ups": float(result.leg_top_up_usd[i]),
                "spot_sold": _leg(result.leg_spot_sold, i),
                "spot_sold_usd": _leg(result.leg_spot_proceeds_usd, i),
                "spot_fees": _leg(result.leg_spot_fees_usd, i),
                "reopens": int(_leg(result.leg_reopens, i)),
                "funding_switches": int(_leg(result.leg_funding_switches, i)),
                "trades": int(result.leg_trades[i]),
                "share_hedged": float(result.leg_hedged_bars[i]) / result.n_bars,
                "liquidated_at": fmt_ms(int(result.times_ms[bar])) if bar >= 0 else None,
            }
        )
    return out


def run_json(run: Run) -> dict[str, Any]:
    hedged = run.name != "unhedged"
    return {
        "name": run.name,
        "params": dict(run.params),
        **run.summary,
        "legs": legs(run.result) if hedged else [],
    }


def liquidation_lines(runs: Sequence[Run], preventions: Sequence[Prevention] = ()) -> list[str]:
    """'band: BTC liquidated at 2024-03-04 16:00 (lost 14,500.00 USD of margin)' for every
    liquidated leg of every run, then what would have kept the shorts alive: the leverage and
    the keeper (settings and reserve) that lived through the same history (`preventions`;
    without them, the general advice)."""
    lines = [
        f"{run.name}: {leg['leg']} liquidated at {leg['liquidated_at']} (lost "
        f"{fmt_num(leg['margin_lost'])} USD of margin)"
        for run in runs
        if run.name != "unhedged"
        for leg in legs(run.result)
        if leg["liquidated_at"] is not None
    ]
    if lines and not preventions:
        lines.append(PREVENTION)
    grouped: dict[tuple[float, float | None], list[str]] = {}
    for p in preventions:  # runs with the same answer share a line
        grouped.setdefault((p.leverage, p.safe_leverage), []).append(p.run)
    lines += [_leverage_words(", ".join(names), *key) for key, names in grouped.items()]
    if preventions:
        lines.append(_keeper_words(preventions[0].kept_alive))
    return lines


def run_notes(
    prep: Prepared, runs: Sequence[Run], preventions: Sequence[Prevention] = ()
) -> list[str]:
    """What a report says under its table: liquidated legs (and what would have kept them
    alive, see `liquidation_lines`), then the data's notes."""
    return [*liquidation_lines(runs, preventions), *prep.notes, *prep.aligned.notes]


PREVENTION = (
    "what would have prevented it: a lower leverage, or the keeper (the default policy: it tops "
    "the margin up from a reserve at 30 % from liquidation and sells spot in step when the "
    "reserve runs out); the keeper column shows the same history with it"
)


def _leverage_words(runs: str, leverage: float, safe: float | None) -> str:
    head = f"what would have prevented it ({runs}):"
    if safe is not None:
        return (
            f"{head} a leverage of {safe:g}x instead of {leverage:g}x (the same history at "
            f"{safe:g}x: no liquidation)"
        )
    if leverage <= 1.0:
        return f"{head} not a lower leverage: it ran at {leverage:g}x already"
    tried = max(x for x in SAFER_LEVERAGES if x < leverage)
    return (
        f"{head} not a lower leverage alone: run again at every leverage from {tried:g}x "
        "down to 1x, it still lost a short"
    )


def _keeper_words(kept: KeptAlive | None) -> str:
    if kept is None:
        return (
            "or the keeper? even with four times the reserve sized before the start it lost a "
            "short here: lower the leverage or the hedge ratio"
        )
    k = kept.keeper
    where = "the keeper column" if kept.own_run else "a keeper run made for this advice"
    return (
        f"or the keeper (min_distance {k.min_distance:.0%}, target_distance "
        f"{k.target_distance:.0%}, on_shortfall {k.on_shortfall}, funding_action "
        f"{k.funding_action}) with a reserve of {fmt_num(kept.reserve_usd)} USD: no liquidation; "
        f"it used {fmt_num(kept.reserve_used_usd)} USD of the reserve and sold "
        f"{fmt_num(kept.spot_sold_usd)} USD of coins ({where})"
    )


def _worst_margin_ratio(result: BacktestResult) -> np.ndarray:
    """The most stretched leg's margin ratio at each sampled bar (NaN when no leg is open)."""
    ratio = result.margin_ratio
    if ratio.ndim == 1:
        return ratio
    out: np.ndarray = np.fmax.reduce(ratio, axis=1) if ratio.shape[1] else ratio[:, 0]
    return out


def chart_runs(runs: Sequence[Run]) -> list[ChartRun]:
    """Curves of each run for the page; the unhedged run has no margin panel."""
    out = []
    for run in runs:
        res = run.result
        if run.name == "unhedged":
            equity = res.equity_unhedged_usd
            funding = np.zeros_like(equity)
            margin, margin_times = None, None
        else:
            equity, funding = res.equity_usd, res.funding_cum_usd
            margin = _worst_margin_ratio(res)
            margin_times = res.times_ms[res.sample_bars]
        out.append(
            ChartRun(
                run.name,
                equity,
                metrics.drawdown_curve(equity),
                funding,
                margin,
                margin_times,
            )
        )
    return out


def backtest_title(prep: Prepared, settings: RunSettings) -> str:
    """'Backtest NAME: venue contract, leverage, from .. to .. (bars)'."""
    t = prep.market.times_ms
    return (
        f"Backtest {prep.config.name}: {prep.config.hedge.exchange} {prep.kind.value}, "
        f"{settings.leverage:g}x, {fmt_ms(int(t[0]))} to {fmt_ms(int(t[-1]))} "
        f"({t.size} bars of {prep.bar_ms / 3_600_000:g} h)"
    )


def backtest_json(prep: Prepared, settings: RunSettings, runs: list[Run]) -> dict[str, object]:
    """The backtest as JSON-ready data: window, notes, gaps and every run."""
    t = prep.market.times_ms
    return {
        "portfolio": prep.config.name,
        "exchange": prep.config.hedge.exchange,
        "contract": prep.kind.value,
        "leverage": settings.leverage,
        "from": fmt_ms(int(t[0])),
        "to": fmt_ms(int(t[-1])),
        "bars": int(t.size),
        "bar_hours": prep.bar_ms / 3_600_000,
        "initial_cash_usd": runs[1].result.spec.initial_cash_usd,
        "notes": [*prep.notes, *prep.aligned.notes],
        "gaps": [g.describe() for g in prep.aligned.gaps],
        "runs": [run_json(r) for r in runs],
    }


def notes_lines(prep: Prepared, max_gap_lines: int) -> list[str]:
    """Coverage notes and data gaps as 'note: ...' and 'warning: ...' lines."""
    lines = [f"note: {note}" for note in (*prep.notes, *prep.aligned.notes)]
    gaps = prep.aligned.gaps
    lines += [
        f"warning: gap: {gap.describe()} (last value carried over; --strict refuses)"
        for gap in gaps[:max_gap_lines]
    ]
    if len(gaps) > max_gap_lines:
        lines.append(f"warning: {len(gaps) - max_gap_lines} more gaps")
    return lines
