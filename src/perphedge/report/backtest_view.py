"""Backtest runs as a terminal table, JSON and the HTML page.

A run is a name ("unhedged", "hedged", or the policy's name) with its headline figures
(`BacktestResult.summary()`; for the unhedged run the same metrics of the unhedged equity, with
zero hedge costs) and, for the page, its curves.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from rich.table import Table

from perphedge import metrics
from perphedge.backtest.data import fmt_ms
from perphedge.backtest.result import BacktestResult
from perphedge.report.html import ChartRun, MetricsTable
from perphedge.report.render import fmt_num, fmt_pct, table

Summary = dict[str, float | int]


@dataclass(frozen=True)
class Run:
    """One run to show; the unhedged run carries a hedged result and shows its unhedged curve."""

    name: str
    params: Mapping[str, float]
    summary: Summary
    result: BacktestResult


def unhedged_summary(result: BacktestResult) -> Summary:
    """The summary keys for holding the coins and the starting cash, with no hedge."""
    eq, t = result.equity_unhedged_usd, result.times_ms
    var, cvar = metrics.var_cvar(eq, t, level=0.95)
    zero_cost = ("funding_pnl", "fees", "basis_pnl", "liquidation_loss", "top_ups", "share_hedged")
    summary: Summary = {
        "total_return": metrics.total_return(eq),
        "volatility": metrics.annualised_volatility(eq, t),
        "max_drawdown": metrics.max_drawdown(eq),
        "worst_month": metrics.worst_month(eq, t),
        "var_95": var,
        "cvar_95": cvar,
        "hedge_effectiveness": 0.0,
        "upside_given_up": 0.0,
        "liquidations": 0,
        "trades": 0,
        "final_equity": float(eq[-1]),
    }
    summary.update(dict.fromkeys(zero_cost, 0.0))
    return summary


def _pct(v: float | int) -> str:
    return fmt_pct(float(v))


def _usd(v: float | int) -> str:
    return fmt_num(float(v))


def _count(v: float | int) -> str:
    return f"{int(v):,}"


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
    ("liquidation loss (USD)", "liquidation_loss", _usd),
    ("share of time hedged", "share_hedged", _pct),
    ("upside given up", "upside_given_up", _pct),
    ("trades", "trades", _count),
    ("final equity (USD)", "final_equity", _usd),
)


def metrics_table(runs: Sequence[Run]) -> MetricsTable:
    """Metric rows x run columns, formatted."""
    rows = tuple((label, *(fmt(run.summary[key]) for run in runs)) for label, key, fmt in ROWS)
    return MetricsTable(("metric", *(run.name for run in runs)), rows)


def rich_table(title: str, runs: Sequence[Run]) -> Table:
    data = metrics_table(runs)
    return table(title, list(data.headers), data.rows)


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


def liquidation_lines(runs: Sequence[Run]) -> list[str]:
    """'band: BTC liquidated at 2024-03-04 16:00' for every liquidated leg of every run."""
    return [
        f"{run.name}: {leg['leg']} liquidated at {leg['liquidated_at']}"
        for run in runs
        if run.name != "unhedged"
        for leg in legs(run.result)
        if leg["liquidated_at"] is not None
    ]


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
