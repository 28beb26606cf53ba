"""`perphedge sweep`: a grid of policies, ratios and leverages, run in parallel and ranked.

The market data is loaded once per contract kind in the grid; each worker process receives it once
(pool initialiser) and then only specs, returning each run's summary. The kernel is compute-bound,
so the grid is spread over processes (`--jobs`, default: all cores). Every combination starts
with the same cash: the initial margin of the most demanding combination (highest ratio at the
lowest leverage), unless `--cash` is given.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from perphedge.backtest import BacktestSpec, MarketArrays, run_backtest
from perphedge.backtest.choices import RUN_KEYS, make_policy, parse_grid
from perphedge.backtest.data import fmt_ms
from perphedge.cli.backtest import parse_date_ms, print_notes
from perphedge.cli.options import choice
from perphedge.config import load_portfolio
from perphedge.errors import (
    InputError,
    require_non_negative,
    require_positive,
)
from perphedge.instruments import ContractKind
from perphedge.report.render import console, err_console, fmt_num, fmt_pct, print_json, table
from perphedge.services.backtest import (
    Prepared,
    RunSettings,
    Summary,
    make_spec,
    prepare,
    start_cash,
)
from perphedge.store.market import MarketStore

# Metrics where a smaller number ranks first; all others rank the larger first.
LOWER_IS_BETTER = frozenset(
    {"volatility", "var_95", "cvar_95", "fees", "liquidations", "liquidation_loss",
     "upside_given_up", "trades", "top_ups"}
)  # fmt: skip
RANKABLE = (
    "total_return", "max_drawdown", "hedge_effectiveness", "volatility", "worst_month", "var_95",
    "cvar_95", "funding_pnl", "fees", "basis_pnl", "liquidations", "upside_given_up",
    "share_hedged", "final_equity",
)  # fmt: skip

_MARKETS: dict[str, MarketArrays] = {}


def _init_worker(markets: dict[str, MarketArrays]) -> None:
    _MARKETS.update(markets)


def _run_one(kind: str, spec: BacktestSpec) -> Summary:
    # perphedge errors pickle with their fields, so a worker's InputError reaches the CLI intact.
    return run_backtest(spec, _MARKETS[kind]).summary()


@dataclass(frozen=True)
class Combo:
    """One grid point: what the user wrote and the spec it became."""

    values: Mapping[str, str]
    kind: str
    leverage: float
    spec: BacktestSpec


def _specs(
    grid: list[dict[str, str]],
    preps: Mapping[str, Prepared],
    default_leverage: float,
    cash: float | None,
    settings: RunSettings,
) -> list[Combo]:
    staged = []
    for values in grid:
        prep = preps[values.get("contract", "")]
        lev = require_positive("leverage", _float(values.get("leverage"), default_leverage))
        params = {k: v for k, v in values.items() if k not in RUN_KEYS}
        policy = make_policy(values["policy"], params, prep.config.hedge.ratio, prep.bar_ms)
        staged.append((values, prep, lev, policy))
    if cash is None:
        cash = max(start_cash(p, pol.params()[0], lev) for _, p, lev, pol in staged)
    combos = []
    for values, prep, lev, policy in staged:
        run = RunSettings(lev, cash, settings.top_up, settings.slippage_bp)
        combos.append(Combo(values, prep.kind.value, lev, make_spec(prep, policy, run, cash)))
    return combos


def _float(text: str | None, default: float) -> float:
    if text is None:
        return default
    try:
        return float(text)
    except ValueError:
        raise InputError("--grid leverage", text, "give a number") from None


def run_grid(
    combos: list[Combo], markets: dict[str, MarketArrays], jobs: int, tick: Callable[[], None]
) -> list[Summary]:
    """Summaries of every combination, in grid order; `jobs` processes (1: in this process)."""
    if jobs == 1:
        _init_worker(markets)
        out = []
        for c in combos:
            out.append(_run_one(c.kind, c.spec))
            tick()
        return out
    results: dict[int, Summary] = {}
    with ProcessPoolExecutor(jobs, initializer=_init_worker, initargs=(markets,)) as pool:
        futures: dict[Future[Summary], int] = {
            pool.submit(_run_one, c.kind, c.spec): i for i, c in enumerate(combos)
        }
        for done in as_completed(futures):
            results[futures[done]] = done.result()
            tick()
    return [results[i] for i in range(len(combos))]


def _ranked(combos: list[Combo], summaries: list[Summary], rank: str) -> Iterator[dict[str, Any]]:
    sign = 1.0 if rank in LOWER_IS_BETTER else -1.0

    def key(i: int) -> tuple[bool, float]:
        value = float(summaries[i][rank])
        # NaN last; equal values (to 12 significant digits) keep grid order
        return (math.isnan(value), sign * float(f"{value:.12g}"))

    for place, i in enumerate(sorted(range(len(combos)), key=key), start=1):
        c = combos[i]
        policy = c.spec.policy  # the values as the policy holds them (numbers, bars)
        params = {k: getattr(policy, k) for k in c.values if k not in RUN_KEYS}
        yield {
            "rank": place,
            "policy": c.values["policy"],
            "params": params,
            "leverage": c.leverage,
            "contract": c.kind,
            **summaries[i],
        }


def _cells(r: dict[str, Any], extra: list[str], kinds: bool) -> list[str]:
    def fmt(key: str) -> str:
        value = r[key]
        if key in {"liquidations", "trades"}:
            return str(int(value))
        usd = key.endswith(("_pnl", "fees", "equity", "_loss", "top_ups"))
        return fmt_num(float(value)) if usd else fmt_pct(float(value))

    params = " ".join(f"{k}={v}" for k, v in r["params"].items())
    head = [str(r["rank"]), r["policy"], params, f"{r['leverage']:g}x"]
    keys = ["total_return", "max_drawdown", "hedge_effectiveness", "funding_pnl", "fees"]
    return [*head, *([r["contract"]] if kinds else []), *(fmt(k) for k in [*keys, *extra])]


def _table(title: str, rows: list[dict[str, Any]], rank: str) -> object:
    """Ranked runs; the contract column only when the grid mixes contract kinds."""
    shown = {"total_return", "max_drawdown", "hedge_effectiveness", "funding_pnl", "fees"}
    extra = ["liquidations"] + ([] if rank in shown | {"liquidations"} else [rank])
    kinds = len({r["contract"] for r in rows}) > 1
    headers = ["#", "policy", "params", "lev", *(["contract"] if kinds else []), "return",
               "max DD", "hedge eff.", "funding USD", "fees USD", *extra]  # fmt: skip
    return table(title, headers, [_cells(r, extra, kinds) for r in rows])


def _kind(text: str) -> ContractKind | None:
    return choice(ContractKind, "--grid contract", text) if text else None


def _prepare_all(
    portfolio: Path, kinds: list[str], since: int, until: int, strict: bool, store: Path | None
) -> dict[str, Prepared]:
    """Market data per contract kind, cut to the span they all cover so the runs compare."""
    config = load_portfolio(portfolio)
    market_store = MarketStore(store)
    preps = {k: prepare(config, since, until, _kind(k), strict, market_store) for k in kinds}
    start = max(int(p.market.times_ms[0]) for p in preps.values())
    end = min(int(p.market.times_ms[-1]) for p in preps.values())
    if any((int(p.market.times_ms[0]), int(p.market.times_ms[-1])) != (start, end)
           for p in preps.values()):  # fmt: skip
        preps = {k: prepare(config, start, end, _kind(k), strict, market_store) for k in kinds}
    return preps


def sweep(
    portfolio: Annotated[Path, typer.Argument(help="Portfolio file (TOML).")],
    grid: Annotated[str, typer.Option(help='e.g. "policy=static,band;ratio=0.5,1;leverage=2,3,5"')],
    date_from: Annotated[str, typer.Option("--from", help="First day, YYYY-MM-DD (UTC).")],
    date_to: Annotated[str, typer.Option("--to", help="Last instant, YYYY-MM-DD (UTC).")],
    rank: Annotated[str, typer.Option(help=f"Metric to rank by: {', '.join(RANKABLE)}.")] = (
        "total_return"
    ),
    jobs: Annotated[int, typer.Option(help="Worker processes (default: all cores).")] = 0,
    cash: Annotated[float | None, typer.Option(help="Starting cash USD of every run.")] = None,
    top_up: Annotated[bool, typer.Option("--top-up", help="Top margin up from cash.")] = False,
    slippage_bp: Annotated[float, typer.Option(help="Slippage per trade, basis points.")] = 1.0,
    strict: Annotated[bool, typer.Option("--strict", help="Refuse data with gaps.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    store: Annotated[Path | None, typer.Option(help="Market store file.")] = None,
) -> None:
    """Run a grid of policies, ratios and leverages in parallel and rank the results."""
    if rank not in RANKABLE:
        raise InputError("--rank", rank, f"use one of {', '.join(RANKABLE)}")
    if jobs < 0:
        raise InputError("--jobs", jobs, "give a number of processes >= 1 (0: all cores)")
    combos_text = parse_grid(grid)
    since, until = parse_date_ms("--from", date_from), parse_date_ms("--to", date_to)
    if since > until:
        raise InputError("--from", date_from, f"must not be after --to {date_to}")
    kinds = list(dict.fromkeys(c.get("contract", "") for c in combos_text))
    preps = _prepare_all(portfolio, kinds, since, until, strict, store)
    first = next(iter(preps.values()))
    for prep in preps.values():
        print_notes(prep)
    settings = RunSettings(
        first.config.hedge.leverage,
        None if cash is None else require_non_negative("--cash", cash),
        top_up,
        require_non_negative("--slippage-bp", slippage_bp),
    )
    combos = _specs(combos_text, preps, first.config.hedge.leverage, settings.cash_usd, settings)
    markets = {prep.kind.value: prep.market for prep in preps.values()}
    workers = min(jobs or os.cpu_count() or 1, len(combos))
    columns = (TextColumn("sweep"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    quiet = not err_console.is_terminal  # no bar, and no stray blank line, when piped
    with Progress(*columns, console=err_console, transient=True, disable=quiet) as progress:
        task = progress.add_task("sweep", total=len(combos))
        summaries = run_grid(combos, markets, workers, lambda: progress.advance(task))
    rows = list(_ranked(combos, summaries, rank))
    t = first.market.times_ms
    title = (
        f"Sweep {first.config.name}: {len(combos)} runs on {workers} processes, "
        f"{fmt_ms(int(t[0]))} to {fmt_ms(int(t[-1]))}, ranked by {rank}"
    )
    base = {
        key: summaries[0][f"{key}_unhedged"]
        for key in ("total_return", "volatility", "max_drawdown")
        if f"{key}_unhedged" in summaries[0]
    }  # the same for every run: same holdings, same starting cash
    if as_json:
        print_json({"title": title, "rank_by": rank, "unhedged": base, "runs": rows})
    else:
        console.print(_table(title, rows, rank))
        if "total_return" in base and "max_drawdown" in base:
            console.print(
                f"unhedged: return {fmt_pct(float(base['total_return']))}, "
                f"max drawdown {fmt_pct(float(base['max_drawdown']))}",
                markup=False,
                highlight=False,
            )


def register(app: typer.Typer) -> None:
    app.command("sweep")(sweep)
