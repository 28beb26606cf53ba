"""Views of a sweep (services.sweep.SweepOutcome): ranked table, JSON, CSV and a heatmap page.

The heatmap shows the ranking metric over two chosen grid parameters (policy parameters, or
`leverage` / `reserve`); where several runs share a cell (other parameters vary), the cell shows
the best of them by the ranking. The page inlines plotly.js, so it opens offline.
"""

from __future__ import annotations

import csv
import html
import io
import math
from pathlib import Path
from typing import Any

from perphedge.errors import InputError
from perphedge.report.render import fmt_num, fmt_pct, table, to_json
from perphedge.services.sweep import LOWER_IS_BETTER, SweepOutcome, SweepRow

SHOWN = ("total_return", "max_drawdown", "hedge_effectiveness", "funding_pnl", "fees")
AXES_BESIDE_PARAMS = ("leverage", "reserve")


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


def heatmap_html(o: SweepOutcome, x: str, y: str) -> str:
    """A self-contained page: the ranking metric over two grid parameters."""
    import plotly.graph_objects as go
    import plotly.io as pio

    xs, ys, z = heatmap_cells(o, x, y)
    fig = go.Figure(
        go.Heatmap(x=xs, y=ys, z=z, colorscale="Viridis", colorbar={"title": o.rank_by})
    )
    fig.update_layout(title=title(o), xaxis_title=x, yaxis_title=y)
    chart = pio.to_html(fig, include_plotlyjs=True, full_html=False, div_id="heatmap")
    head = html.escape(title(o))
    return (
        "<!DOCTYPE html>\n<html><head><meta charset='utf-8'>"
        f"<title>{head}</title></head><body><h1>{head}</h1>"
        f"<p>{html.escape(o.rank_by)}: best run per cell ({html.escape(unhedged_line(o))})</p>"
        f"{chart}</body></html>\n"
    )


def write_text(option: str, path: Path, text: str, suffix: str) -> None:
    """Write the file an option names; InputError when its name does not end in `suffix` or it
    cannot be written."""
    if path.suffix.lower() != suffix:
        raise InputError(option, str(path), f"give a file name ending in {suffix}")
    try:
        path.write_text(text, encoding="utf-8")
    except OSError as bad:
        raise InputError(option, str(path), f"cannot write it ({bad.strerror})") from None
