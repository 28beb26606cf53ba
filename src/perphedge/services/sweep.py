"""Sweep service: a grid of policies, ratios, leverages and reserves over stored history, ranked.

The grid (`backtest.choices.parse_grid`) is expanded into backtest specs; the market data is
loaded once per contract kind and cut to the span every kind covers, so the runs compare. Specs
are grouped by data and contract kind (they then share their legs) and each group runs as one
batch (`backtest.batch`): one pass over the market arrays for all its configurations. A runner
does the work: `local_runner` (threads of this process, the default) or the Ray one
(`perphedge.cluster.ray_runner`); both give identical figures.

Every run starts with the same cash, the initial margin of the most demanding combination
(highest ratio at the lowest leverage) unless given, plus the run's `reserve` from the grid.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from perphedge.backtest import BacktestSpec, MarketArrays
from perphedge.backtest.batch import run_batch
from perphedge.backtest.choices import RUN_KEYS, make_policy, parse_grid
from perphedge.config import PortfolioConfig
from perphedge.errors import InputError, require_non_negative, require_positive
from perphedge.instruments import ContractKind
from perphedge.ports import MarketHistory
from perphedge.services.backtest import (
    Prepared,
    RunSettings,
    Summary,
    make_spec,
    prepare,
    start_cash,
)

# Metrics where a smaller number ranks first; all others rank the larger first.
LOWER_IS_BETTER = frozenset(
    {"volatility", "var_95", "cvar_95", "fees", "liquidations", "liquidation_loss",
     "upside_given_up", "trades", "top_ups"}
)  # fmt: skip
RANKABLE = (
    "hedge_effectiveness", "drawdown_cut_per_cost", "total_return", "max_drawdown", "volatility",
    "worst_month", "var_95", "cvar_95", "funding_pnl", "fees", "basis_pnl", "liquidations",
    "upside_given_up", "share_hedged", "final_equity",
)  # fmt: skip
DEFAULT_RANK = "hedge_effectiveness"
WHY_DEFAULT_RANK = (
    "A hedge is insurance: the default ranks first the runs that remove the most of the "
    "holdings' daily variance (hedge_effectiveness); drawdown_cut_per_cost ranks by drawdown "
    "avoided per unit of cost. total_return would rank first the runs that hedge least."
)
GRID_KEYS = ("policy", "leverage", "contract", "reserve")


@dataclass(frozen=True)
class SweepGroup:
    """Configurations that share data and legs: one batch."""

    market: MarketArrays
    specs: tuple[BacktestSpec, ...]


class SweepRunner(Protocol):
    """Runs groups and returns each group's summaries in spec order; `tick(n)` as n runs end."""

    def __call__(
        self, groups: Sequence[SweepGroup], jobs: int, tick: Callable[[int], None]
    ) -> list[list[Summary]]: ...


def local_runner(
    groups: Sequence[SweepGroup], jobs: int, tick: Callable[[int], None]
) -> list[list[Summary]]:
    """Each group as one batch in this process, on `jobs` threads."""
    return [run_batch(g.specs, g.market, jobs, tick).summaries() for g in groups]


@dataclass(frozen=True)
class SweepRequest:
    """What to sweep: the grid text, the window and the knobs every run shares."""

    grid: str
    since_ms: int
    until_ms: int
    rank: str = DEFAULT_RANK
    cash_usd: float | None = None
    top_up: bool = False
    slippage_bp: float = 1.0
    strict: bool = False
    jobs: int = 1


@dataclass(frozen=True)
class SweepRow:
    """One run, ranked: what the grid asked for (params as the policy holds them) and figures."""

    rank: int
    policy: str
    params: Mapping[str, float | int]
    leverage: float
    reserve_usd: float
    contract: str
    summary: Mapping[str, float | int]


@dataclass(frozen=True)
class SweepOutcome:
    """Every run ranked by `rank_by`, the unhedged baseline and the notes on the data."""

    portfolio: str
    start_ms: int
    end_ms: int
    rank_by: str
    rows: tuple[SweepRow, ...]
    unhedged: Mapping[str, float]
    prepared: tuple[Prepared, ...]  # the data of each contract kind, with its notes and gaps

    @property
    def params(self) -> tuple[str, ...]:
        """The parameter names that vary or are set across the rows (for tables and heatmaps)."""
        names = dict.fromkeys(k for r in self.rows for k in r.params)
        return tuple(names)


@dataclass(frozen=True)
class _Combo:
    values: Mapping[str, str]
    kind: str
    leverage: float
    reserve_usd: float
    spec: BacktestSpec


def _number(key: str, text: str | None, default: float) -> float:
    if text is None:
        return default
    try:
        return float(text)
    except ValueError:
        raise InputError(f"--grid {key}", text, "give a number") from None


def _combos(
    grid: list[dict[str, str]], preps: Mapping[str, Prepared], request: SweepRequest
) -> list[_Combo]:
    staged = []
    for values in grid:
        prep = preps[values.get("contract", "")]
        default = prep.config.hedge.leverage
        lev = require_positive("leverage", _number("leverage", values.get("leverage"), default))
        reserve = require_non_negative("reserve", _number("reserve", values.get("reserve"), 0.0))
        params = {k: v for k, v in values.items() if k not in RUN_KEYS}
        policy = make_policy(values["policy"], params, prep.config.hedge.ratio, prep.bar_ms)
        staged.append((values, prep, lev, reserve, policy))
    cash = request.cash_usd
    if cash is None:
        cash = max(start_cash(p, pol.params()[0], lev) for _, p, lev, _, pol in staged)
    combos = []
    for values, prep, lev, reserve, policy in staged:
        run = RunSettings(lev, cash, request.top_up, request.slippage_bp)
        spec = make_spec(prep, policy, run, cash + reserve)
        combos.append(_Combo(values, prep.kind.value, lev, reserve, spec))
    return combos


def _kind(text: str) -> ContractKind | None:
    if not text:
        return None
    try:
        return ContractKind(text.strip().lower())
    except ValueError:
        choices = "|".join(k.value for k in ContractKind)
        raise InputError("--grid contract", text, f"use one of {choices}") from None


def _prepare_all(
    config: PortfolioConfig, kinds: list[str], request: SweepRequest, store: MarketHistory
) -> dict[str, Prepared]:
    """Market data per contract kind, cut to the span they all cover so the runs compare."""
    since, until, strict = request.since_ms, request.until_ms, request.strict
    preps = {k: prepare(config, since, until, _kind(k), strict, store) for k in kinds}
    start = max(int(p.market.times_ms[0]) for p in preps.values())
    end = min(int(p.market.times_ms[-1]) for p in preps.values())
    if any((int(p.market.times_ms[0]), int(p.market.times_ms[-1])) != (start, end)
           for p in preps.values()):  # fmt: skip
        preps = {k: prepare(config, start, end, _kind(k), strict, store) for k in kinds}
    return preps


def group_specs(
    combos: Sequence[tuple[MarketArrays, BacktestSpec]],
) -> tuple[list[SweepGroup], list[tuple[int, int]]]:
    """Group (data, spec) pairs by data and legs; returns the groups and, per input, its
    (group, position) so results can be put back in input order."""
    keys: dict[tuple[int, object], int] = {}
    members: list[tuple[MarketArrays, list[BacktestSpec]]] = []
    where = []
    for market, spec in combos:
        key = (id(market), spec.legs)
        if key not in keys:
            keys[key] = len(members)
            members.append((market, []))
        g = keys[key]
        where.append((g, len(members[g][1])))
        members[g][1].append(spec)
    return [SweepGroup(m, tuple(s)) for m, s in members], where


def rank_key(rank: str, summary: Summary) -> tuple[bool, float]:
    """Sort key: best first for `rank`, NaN last; equal to 12 significant digits keeps order."""
    value = float(summary[rank])
    sign = 1.0 if rank in LOWER_IS_BETTER else -1.0
    return (math.isnan(value), sign * float(f"{value:.12g}") if not math.isnan(value) else 0.0)


def with_protection(summary: Summary, start_equity: float) -> Summary:
    """The summary plus drawdown_cut_per_cost: how much shallower the worst drawdown is than
    unhedged, per unit of what the hedge cost (fees, funding paid, liquidation losses), both as
    fractions of the starting equity. inf when it cost nothing; NaN when it cut nothing either."""
    cut = float(summary["max_drawdown"]) - float(summary["max_drawdown_unhedged"])
    paid = float(summary["fees"]) + max(-float(summary["funding_pnl"]), 0.0)
    cost = (paid + float(summary["liquidation_loss"])) / start_equity if start_equity > 0 else 0.0
    ratio = cut / cost if cost > 0 else (math.inf if cut > 0 else math.nan)
    return {**summary, "drawdown_cut_per_cost": ratio}


def run_sweep(
    config: PortfolioConfig,
    request: SweepRequest,
    store: MarketHistory,
    runner: SweepRunner = local_runner,
    tick: Callable[[int, int], None] = lambda n, total: None,
) -> SweepOutcome:
    """Expand the grid, load the data once per contract kind, run every combination, rank.
    `tick(n, total)` as n more of the total runs end."""
    if request.rank not in RANKABLE:
        raise InputError("--rank", request.rank, f"use one of {', '.join(RANKABLE)}")
    grid = parse_grid(request.grid)
    kinds = list(dict.fromkeys(c.get("contract", "") for c in grid))
    preps = _prepare_all(config, kinds, request, store)
    combos = _combos(grid, preps, request)
    markets = {p.kind.value: p.market for p in preps.values()}
    groups, where = group_specs([(markets[c.kind], c.spec) for c in combos])
    results = runner(groups, max(1, request.jobs), lambda n: tick(n, len(combos)))
    summaries = [results[g][k] for g, k in where]
    summaries = [
        with_protection(s, _start_equity(c.spec, markets[c.kind]))
        for s, c in zip(summaries, combos, strict=True)
    ]
    order = sorted(range(len(combos)), key=lambda i: rank_key(request.rank, summaries[i]))
    rows = tuple(_row(place, combos[i], summaries[i]) for place, i in enumerate(order, start=1))
    base = {
        key: float(summaries[0][f"{key}_unhedged"])
        for key in ("total_return", "volatility", "max_drawdown")
    }  # the same for every run: same holdings, same starting cash
    t = next(iter(preps.values())).market.times_ms
    return SweepOutcome(
        config.name, int(t[0]), int(t[-1]), request.rank, rows, base, tuple(preps.values())
    )


def _start_equity(spec: BacktestSpec, market: MarketArrays) -> float:
    """Cash plus the holdings' value at the first bar."""
    held = sum(leg.qty_base * float(market.spot[0, leg.spot_col]) for leg in spec.legs)
    return float(spec.initial_cash_usd) + held


def _row(place: int, c: _Combo, summary: Summary) -> SweepRow:
    policy = c.spec.policy  # the values as the policy holds them (numbers, bars)
    params = {k: getattr(policy, k) for k in c.values if k not in RUN_KEYS}
    return SweepRow(place, c.values["policy"], params, c.leverage, c.reserve_usd, c.kind, summary)
