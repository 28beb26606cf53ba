"""Views of a sweep (services.sweep.SweepOutcome): ranked table, JSON, CSV and a heatmap page.

The heatmap page (`perphedge.report.page`: title, inputs, chart, table, words) shows the ranking
metric over two chosen grid parameters (policy parameters, or `leverage` / `reserve`); where
several runs share a cell (other parameters vary), the cell shows the best of them by the
ranking. The page inlines plotly.js, so it opens offline.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Any

from perphedge.errors import InputError
from perphedge.report.explain import EXPLAIN
from perphedge.report.page import ReportPage, render_page, table_html
from perphedge.report.render import fmt_num, fmt_pct, table, to_json
from perphedge.services.sweep import (
    DEFAULT_RANK,
    LOWER_IS_BETTER,
    WHY_DEFAULT_RANK,
    SweepOutcome,
    SweepRow,
)

SHOWN = ("total_return", "max_drawdown", "hedge_effectiveness", "funding_pnl", "fees")
AXES_BESIDE_PARAMS = ("leverage", "reserve")
BEST_SHOWN = 10  # runs listed under the heatmap


def _fmt(key: str, value: float | int) -> str:
    if key in {"liquidations", "trades"}:
        return str(int(value))
    if key == "drawdown_cut_per_cost":
        return fmt_num(float(value))
    usd = key.endswith(("_pnl", "fees", "equity", "_loss", "top_ups", "min_cash"))
    return fmt_num(float(value)) if usd else fmt_pct(float(value))


def title(o: SweepOutcome) -> str:
    from perphedge.backtest.data import fmt_ms

    return (
        f"Sweep {o.portfolio}: {len(o.rows)} runs, {fmt_ms(o.start_ms)} to {fmt_ms(o.end_ms)}, "
        f"ranked by {o.rank_by}"
    )


def sweep_table(o: SweepOutcome) -> object:
    """Ranked runs; contract and reserve columns only when the grid varies them."""
    extra = ["liquidations"] + ([] if o.rank_by in {*SHOWN, "liquidations"} else [o.rank_by])
    kinds = len({r.contract for r in o.rows}) > 1
    reserves = len({r.reserve_usd for r in o.rows}) > 1
    headers = ["#", "policy", "params", "lev", *(["contract"] if kinds else []),
               *(["reserve USD"] if reserves else []), "return", "max DD", "hedge eff.",
               "funding USD", "fees USD", *extra]  # fmt: skip
    rows = []
    for r in o.rows:
        params = " ".join(f"{k}={v}" for k, v in r.params.items())
        head = [str(r.rank), r.policy, params, f"{r.leverage:g}x"]
        head += [r.contract] if kinds else []
        head += [fmt_num(r.reserve_usd)] if reserves else []
        rows.append([*head, *(_fmt(k, r.summary[k]) for k in [*SHOWN, *extra])])
    return table(title(o), headers, rows)


def unhedged_line(o: SweepOutcome) -> str:
    return (
        f"unhedged: return {fmt_pct(o.unhedged['total_return'])}, "
        f"max drawdown {fmt_pct(o.unhedged['max_drawdown'])}"
    )


def _row_dict(r: SweepRow) -> dict[str, Any]:
    return {
        "rank": r.rank,
        "policy": r.policy,
        "params": dict(r.params),
        "leverage": r.leverage,
        "reserve_usd": r.reserve_usd,
        "contract": r.contract,
        **r.summary,
    }


def sweep_json(o: SweepOutcome) -> str:
    """The `--json` document: title, ranking, unhedged baseline and every run ranked."""
    runs = [_row_dict(r) for r in o.rows]
    return to_json({"title": title(o), "rank_by": o.rank_by, "unhedged": o.unhedged, "runs": runs})


def sweep_csv(o: SweepOutcome) -> str:
    """One line per run: rank, policy, each parameter, leverage, reserve, contract, figures."""
    params = list(o.params)
    metrics = list(o.rows[0].summary) if o.rows else []
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["rank", "policy", *params, "leverage", "reserve_usd", "contract", *metrics])
    for r in o.rows:
        cells = [r.params.get(p, "") for p in params]
        figures = [_csv_number(r.summary[m]) for m in metrics]
        writer.writerow([r.rank, r.policy, *cells, r.leverage, r.reserve_usd, r.contract, *figures])
    return out.getvalue()


def _csv_number(value: float | int) -> str:
    return repr(value) if isinstance(value, int) or math.isfinite(value) else ""


def axis_value(r: SweepRow, name: str) -> float | int | None:
    """A row's value on a heatmap axis: a policy parameter, `leverage` or `reserve`."""
    if name == "leverage":
        return r.leverage
    if name == "reserve":
        return r.reserve_usd
    return r.params.get(name)


def heatmap_cells(
    o: SweepOutcome, x: str, y: str
) -> tuple[list[float], list[float], list[list[float | None]]]:
    """(x values, y values, z[y][x]): the best ranking metric of the runs in each cell."""
    known = {*o.params, *AXES_BESIDE_PARAMS}
    for option, name in (("--x", x), ("--y", y)):
        if name not in known:
            raise InputError(option, name, f"use one of {', '.join(sorted(known))}")
    best: dict[tuple[float, float], float] = {}
    lower = o.rank_by in LOWER_IS_BETTER
    for r in o.rows:
        vx, vy, value = axis_value(r, x), axis_value(r, y), float(r.summary[o.rank_by])
        if vx is None or vy is None or math.isnan(value):
            continue
        key = (float(vx), float(vy))
        if key not in best or (value < best[key] if lower else value > best[key]):
            best[key] = value
    xs = sorted({k[0] for k in best})
    ys = sorted({k[1] for k in best})
    z = [[_finite(best.get((vx, vy))) for vx in xs] for vy in ys]
    return xs, ys, z


def _finite(value: float | None) -> float | None:
    return value if value is not None and math.isfinite(value) else None


def heatmap_inputs(o: SweepOutcome, x: str, y: str, grid: str) -> list[tuple[str, str]]:
    """What went into the heatmap, for the page's Inputs section."""
    from perphedge.backtest.data import fmt_ms

    better = "lower" if o.rank_by in LOWER_IS_BETTER else "higher"
    return [
        ("Portfolio", o.portfolio),
        ("Period", f"{fmt_ms(o.start_ms)} to {fmt_ms(o.end_ms)} (stored history, UTC)"),
        ("Parameter grid", f"{grid} ({len(o.rows)} runs)"),
        ("Metric", f"{o.rank_by} ({better} is better)"),
        ("Axes", f"across: {x}; up: {y}"),
        ("Without insurance", unhedged_line(o)),
    ]


def heatmap_explanations(o: SweepOutcome, x: str, y: str) -> list[tuple[str, str]]:
    """The metric and the chart in plain words."""
    better = "lower" if o.rank_by in LOWER_IS_BETTER else "higher"
    metric = EXPLAIN.get(o.rank_by, "")
    read = (
        f"Each square is one pair of settings: {x} across, {y} up. Its colour is the {o.rank_by} "
        f"of that run on the stored history, written in the square (the scale on the right; "
        f"yellow is high, dark blue is low); here {better} is better. Where the grid varies other settings too, the "
        "square shows the best run with that pair, and the table below names every setting "
        "of the best runs. An empty square had no run, or a figure that could not be computed "
        "(for example nothing to divide by). Neighbouring squares of similar colour mean the "
        "result does not hang on the exact setting; a lone bright square may be luck of this "
        "period."
    )
    items = [(o.rank_by, metric), ("How to read the heatmap", read)]
    if o.rank_by == DEFAULT_RANK:
        items.append(("Why this metric", WHY_DEFAULT_RANK))
    return [(term, words) for term, words in items if words]


def heatmap_html(o: SweepOutcome, x: str, y: str, grid: str) -> str:
    """A self-contained page: title, inputs, the ranking metric over two grid parameters, the
    best runs, and the metric and chart explained."""
    import plotly.graph_objects as go

    xs, ys, z = heatmap_cells(o, x, y)
    cells = go.Heatmap(
        x=[f"{v:g}" for v in xs], y=[f"{v:g}" for v in ys], z=z, colorscale="Viridis",
        colorbar={"title": o.rank_by}, texttemplate="%{z:.3g}",
    )  # fmt: skip
    fig = go.Figure(cells)
    fig.update_layout(title=f"{o.rank_by} by {x} and {y}", xaxis_title=x, yaxis_title=y)
    fig.update_xaxes(type="category")  # one labelled square per grid value
    fig.update_yaxes(type="category")
    best = [
        [str(r.rank), r.policy, " ".join(f"{k}={v}" for k, v in r.params.items()),
         f"{r.leverage:g}x", fmt_num(r.reserve_usd), _fmt(o.rank_by, r.summary[o.rank_by])]
        for r in o.rows[:BEST_SHOWN]
    ]  # fmt: skip
    headers = ["#", "policy", "params", "leverage", "reserve USD", o.rank_by]
    tables = f"<h2>The {len(best)} best runs</h2>{table_html(headers, best)}"
    page = ReportPage(
        title(o), heatmap_inputs(o, x, y, grid), (fig,), tables, heatmap_explanations(o, x, y)
    )
    return render_page(page)


def write_text(option: str, path: Path, text: str, suffix: str) -> None:
    """Write the file an option names; InputError when its name does not end in `suffix` or it
    cannot be written."""
    if path.suffix.lower() != suffix:
        raise InputError(option, str(path), f"give a file name ending in {suffix}")
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as bad:
        raise InputError(option, str(path), f"cannot write it ({bad.strerror})") from None
