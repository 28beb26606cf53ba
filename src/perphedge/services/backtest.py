"""Backtest service: a portfolio file's hedge on stored history, unhedged, hedged and per policy.

`prepare` loads the portfolio's market data on the backtest grid (perphedge.services.backtest_inputs)
with the bundled contract specs of its hedge perpetuals; `run_backtests` runs the pure backtest
core (perphedge.backtest) for each policy. `make_spec` and `start_cash` are shared with the sweep.
Starting cash, unless given: the hedge's initial margin on the first bar (backtest.from_portfolio).
A keeper run holds its reserve beside it: the file's [keeper] reserve_usd, else sized on the
stored history before the first bar only (`keeper_reserve`).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np

from perphedge import metrics
from perphedge.backtest import (
    BacktestSpec,
    Keeper,
    MarketArrays,
    Policy,
    StaticRatio,
    run_backtest,
)
from perphedge.backtest.choices import make_policy, param_names, parse_params, policy_class
from perphedge.backtest.data import AlignedMarket, fmt_ms
from perphedge.backtest.from_portfolio import (
    FALLBACK_RESERVE_OF_NOTIONAL,
    MIN_HISTORY_DAYS,
    Layout,
    StartReserve,
    costs_for,
    hedge_legs,
    keeper_for,
    layout,
    reserve_before_start,
    start_margin_usd,
)
from perphedge.backtest.prevention import Prevention, prevent
from perphedge.backtest.result import BacktestResult
from perphedge.backtest.spec import SPOT_TAKER_FEE
from perphedge.config import PortfolioConfig
from perphedge.errors import InputError, require_finite, require_non_negative, require_positive
from perphedge.instruments import ContractKind, MarginTier, Perpetual, TierTable
from perphedge.ports import History, MarketHistory
from perphedge.services.backtest_inputs import load_aligned
from perphedge.services.inputs import leg_history
from perphedge.venues import contract_specs

Summary = dict[str, float | int]
ASSUMED_MMR = 0.01
TOP_UP_RESERVE = 1.0  # --top-up without --cash: reserve = this x the initial margin


@dataclass(frozen=True)
class Prepared:
    """A portfolio's market data on the backtest grid, with its legs' instruments."""

    config: PortfolioConfig
    kind: ContractKind
    plan: Layout
    instruments: dict[str, Perpetual]
    aligned: AlignedMarket
    market: MarketArrays
    notes: tuple[str, ...]

    @property
    def bar_ms(self) -> int:
        return int(np.median(np.diff(self.market.times_ms)))


def _instrument(exchange: str, asset: str, kind: ContractKind) -> tuple[Perpetual, str | None]:
    """The bundled contract spec, else a generic one with a flat maintenance rate (noted)."""
    found = contract_specs.find(exchange, asset, kind)
    if found is not None:
        assumed = "assumed" in found.tiers.source
        note = f"{exchange} {found.symbol} tiers: {found.tiers.source}" if assumed else None
        return found, note
    inverse = kind is ContractKind.INVERSE
    perp = Perpetual(
        symbol=f"{asset}/USD:{asset}" if inverse else f"{asset}/USDT:USDT",
        base=asset,
        quote="USD" if inverse else "USDT",
        settle=asset if inverse else "USDT",
        kind=kind,
        contract_size=(100.0 if asset == "BTC" else 10.0) if inverse else 1.0,
        tiers=TierTable((MarginTier(0.0, math.inf, 125.0, ASSUMED_MMR, 0.0),), source="assumed"),
        exchange=exchange,
    )
    size = f", {perp.contract_size:g} USD contracts" if inverse else ""
    return perp, (
        f"{exchange} {perp.symbol}: no bundled contract spec; flat {ASSUMED_MMR:.0%} maintenance "
        f"rate, Binance regular fees{size} assumed"
    )


def prepare(
    config: PortfolioConfig,
    since_ms: int,
    until_ms: int,
    kind: ContractKind | None,
    strict: bool,
    store: MarketHistory,
) -> Prepared:
    """The portfolio's market data on the backtest grid (`kind` None: the file's contract)."""
    kind = kind or config.hedge.kind
    plan = layout(config.portfolio, config.hedge.ratio)
    if not plan.legs:
        raise InputError("ratio", 0, "every holding has hedge ratio 0: nothing to backtest")
    exchange = config.hedge.exchange.lower()
    notes: list[str] = []
    if config.hedge.margin_mode != "isolated":
        notes.append(f"margin_mode {config.hedge.margin_mode}: modelled as isolated per leg")
    instruments: dict[str, Perpetual] = {}
    for asset in plan.hedge_assets:
        instruments[asset], note = _instrument(exchange, asset, kind)
        notes += [note] if note else []
    aligned = load_aligned(
        store,
        exchange,
        plan.assets,
        [instruments[a].symbol for a in plan.hedge_assets],
        since_ms,
        until_ms,
        strict=strict,
    )
    market = MarketArrays.from_dense_funding(
        aligned.times_ms,
        aligned.spot,
        aligned.perp,
        aligned.mark,
        aligned.funding_rate,
        aligned.funding_event,
        aligned.spot_names,
        aligned.instrument_names,
        mark_high=aligned.mark_high,
        mark_low=aligned.mark_low,
    )
    return Prepared(config, kind, plan, instruments, aligned, market, tuple(notes))


@dataclass(frozen=True)
class RunSettings:
    """Knobs shared by every run of one command."""

    leverage: float
    cash_usd: float | None  # None: the initial margin of the hedge (see from_portfolio)
    top_up: bool
    slippage_bp: float
    spot_fee_bp: float = SPOT_TAKER_FEE * 1e4  # on coins the keeper sells


def make_spec(
    prep: Prepared, policy: Policy, settings: RunSettings, cash_usd: float
) -> BacktestSpec:
    legs = hedge_legs(prep.plan, prep.instruments)
    return BacktestSpec(
        legs=legs,
        policy=policy,
        initial_cash_usd=cash_usd,
        leverage=settings.leverage,
        costs=costs_for(
            list(prep.instruments.values()), settings.slippage_bp, settings.spot_fee_bp * 1e-4
        ),
        auto_top_up=settings.top_up,
    )


def start_cash(prep: Prepared, ratio: float, leverage: float) -> float:
    """Cash that funds the hedge's initial margin on the first bar."""
    legs = hedge_legs(prep.plan, prep.instruments)
    return start_margin_usd(legs, prep.market.spot[0], ratio, leverage)


def policies_for(
    names: list[str], params: dict[str, str], ratio: float, bar_ms: int
) -> list[Policy]:
    """The named policies with their parameters; InputError for a parameter none takes."""
    taken = {p for name in names for p in param_names(policy_class(name))}
    unknown = sorted(set(params) - taken)
    if unknown:
        raise InputError(
            f"--param {unknown[0]}",
            params[unknown[0]],
            f"no chosen policy takes it ({', '.join(sorted(taken)) or 'give --policy first'})",
        )
    return [
        make_policy(
            name,
            {k: v for k, v in params.items() if k in param_names(policy_class(name))},
            ratio,
            bar_ms,
        )
        for name in names
    ]


def with_file_keeper(
    given: Keeper, config: PortfolioConfig, params: dict[str, str], bar_ms: int
) -> Keeper:
    """The portfolio's [keeper] settings as the backtest Keeper, with the parameters given on
    the command line (already in `given`) taking precedence."""
    base = keeper_for(config.keeper, given.ratio, bar_ms)
    chosen = {k: getattr(given, k) for k in params if k in param_names(Keeper)}
    return dataclasses.replace(base, **chosen)


def settings_from(
    prep: Prepared, leverage: float | None, cash: float | None, top_up: bool, slippage_bp: float,
    spot_fee_bp: float = SPOT_TAKER_FEE * 1e4,
) -> RunSettings:  # fmt: skip
    """Run knobs from the options; the file's leverage unless one is given."""
    require_finite("--spot-fee-bp", spot_fee_bp)
    if not 0.0 <= spot_fee_bp < 1000.0:
        raise InputError("--spot-fee-bp", spot_fee_bp, "give basis points in [0, 1000), e.g. 10")
    lev = (
        require_positive("--leverage", leverage)
        if leverage is not None
        else prep.config.hedge.leverage
    )
    return RunSettings(
        leverage=lev,
        cash_usd=None if cash is None else require_non_negative("--cash", cash),
        top_up=top_up,
        slippage_bp=require_non_negative(
            "--slippage-bp", require_finite("--slippage-bp", slippage_bp)
        ),
        spot_fee_bp=spot_fee_bp,
    )


@dataclass(frozen=True)
class Run:
    """One run to show; the unhedged run carries a hedged result and shows its unhedged curve."""

    name: str
    params: Mapping[str, float | str]
    summary: Summary
    result: BacktestResult


def unhedged_summary(result: BacktestResult) -> Summary:
    """The summary keys for holding the coins alone (no hedge, no cash)."""
    eq, t = result.equity_unhedged_usd, result.times_ms
    var, cvar = metrics.var_cvar(eq, t, level=0.95)
    zero_cost: tuple[str, ...] = ("funding_pnl", "fees", "basis_pnl", "liquidation_loss")
    zero_cost += ("top_ups", "share_hedged", "margin_lost", "spot_sold_usd", "reopens")
    zero_cost += ("days_unhedged", "spot_fees", "funding_switches")
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


def keeper_reserve(
    prep: Prepared, leverage: float, history: History
) -> tuple[float, tuple[str, ...]]:
    """The keeper's reserve (USD): the file's [keeper] reserve_usd, else sized on the stored
    history before the first bar only (`from_portfolio.reserve_before_start`: no look-ahead);
    with notes naming the history and windows used, or the fallback."""
    if prep.config.reserve_usd is not None:
        usd = prep.config.reserve_usd
        return usd, (f"keeper reserve {usd:,.2f} USD (from the file's [keeper] reserve_usd)",)
    legs = hedge_legs(prep.plan, prep.instruments)
    insts = [prep.instruments[leg.hedge_asset] for leg in prep.plan.legs]
    start_ms = int(prep.market.times_ms[0])
    exchange = prep.config.hedge.exchange.lower()
    histories = [leg_history(history, exchange, inst.symbol, until_ms=start_ms) for inst in insts]
    sized = reserve_before_start(
        legs, insts, histories, prep.market, prep.config.keeper, prep.config.hedge.ratio, leverage
    )
    return sum(r.reserve_usd for r in sized), tuple(_reserve_note(r, start_ms) for r in sized)


def _reserve_note(r: StartReserve, start_ms: int) -> str:
    head = f"keeper reserve for {r.symbol}: {r.reserve_usd:,.2f} USD"
    if r.sized is None:
        had = (
            "no stored daily marks"
            if r.history_from_ms is None or r.history_to_ms is None
            else f"only {(r.history_to_ms - r.history_from_ms) / 86_400_000:.0f} days of stored "
            "daily marks"
        )
        return (
            f"{head} = {FALLBACK_RESERVE_OF_NOTIONAL:.0%} of the hedge notional on the first bar "
            f"(fallback: {had} before the start {fmt_ms(start_ms)}, fewer than "
            f"{MIN_HISTORY_DAYS:.0f})"
        )
    w = r.sized
    return (
        f"{head}, sized on the stored history before the start only (daily marks "
        f"{fmt_ms(r.history_from_ms or 0)} to {fmt_ms(r.history_to_ms or 0)}): worst 30-day rally "
        f"{w.rally.move:+.1%} from {fmt_ms(w.rally.start_ms)} to {fmt_ms(w.rally.end_ms)}; worst "
        f"30-day funding paid {w.funding.move:.2%} to {fmt_ms(w.funding.end_ms)}"
    )


Tick = Callable[[int, int], None]  # (n, total): n more of the total bars were simulated


def _no_tick(n: int, total: int) -> None:
    """Progress nobody watches."""


def run_all(
    prep: Prepared, policies: list[Policy], names: list[str], settings: RunSettings,
    reserve_usd: float = 0.0, tick: Tick = _no_tick,
) -> list[Run]:  # fmt: skip
    """Unhedged, hedged at the file's ratio, then one run per policy (named by `names`); a
    keeper run also holds `reserve_usd` of cash beside the others' starting cash. `tick(n,
    total)`: first (0, total), then the bars of each run as it ends (total = bars x runs; the
    unhedged figures come with the hedged run)."""
    ratio = prep.config.hedge.ratio
    cash = settings.cash_usd
    if cash is None:
        cash = start_cash(prep, max([ratio, *(p.params()[0] for p in policies)]), settings.leverage)
        if settings.top_up:
            cash *= 1 + TOP_UP_RESERVE  # a reserve to top up from, beside the initial margin
    runs: list[Run] = []
    todo = [("hedged", StaticRatio(ratio)), *zip(names, policies, strict=True)]
    tick(0, prep.market.n_bars * len(todo))
    for name, policy in todo:
        own = cash + reserve_usd if isinstance(policy, Keeper) else cash
        result = run_backtest(make_spec(prep, policy, settings, own), prep.market)
        tick(prep.market.n_bars, prep.market.n_bars * len(todo))
        values = {f: getattr(policy, f) for f in param_names(type(policy))}
        params = {f: v if isinstance(v, str) else float(v) for f, v in values.items()}
        runs.append(Run(name, params, result.summary(), result))
    base = runs[0].result
    return [Run("unhedged", {}, unhedged_summary(base), base), *runs]


@dataclass(frozen=True)
class BacktestRequest:
    """What to run: the window, the policies (name and k=v parameters) and the run knobs."""

    since_ms: int
    until_ms: int
    policies: tuple[str, ...] = ()
    params: tuple[str, ...] = ()
    kind: ContractKind | None = None
    strict: bool = False
    leverage: float | None = None
    cash_usd: float | None = None
    top_up: bool = False
    slippage_bp: float = 1.0
    spot_fee_bp: float = SPOT_TAKER_FEE * 1e4


@dataclass(frozen=True)
class BacktestOutcome:
    """The prepared data, the knobs used and every run (unhedged first, then hedged)."""

    prep: Prepared
    settings: RunSettings
    runs: tuple[Run, ...]
    keeper_notes: tuple[str, ...] = ()
    preventions: tuple[Prevention, ...] = ()  # what would have kept lost shorts alive


def run_backtests(
    config: PortfolioConfig, request: BacktestRequest, store: MarketHistory, tick: Tick = _no_tick
) -> BacktestOutcome:
    """Prepare `config`'s data and run it unhedged, hedged and under each policy; `tick` as
    in `run_all` (it is first called once the data is loaded)."""
    prep = prepare(config, request.since_ms, request.until_ms, request.kind, request.strict, store)
    settings = settings_from(
        prep, request.leverage, request.cash_usd, request.top_up, request.slippage_bp,
        request.spot_fee_bp,
    )  # fmt: skip
    names = [n.strip().lower() for n in request.policies]
    ratio = config.hedge.ratio
    params = parse_params(list(request.params))
    policies = policies_for(names, params, ratio, prep.bar_ms)
    policies = [  # the keeper by name runs the file's [keeper] settings, --param on top
        with_file_keeper(p, config, params, prep.bar_ms) if isinstance(p, Keeper) else p
        for p in policies
    ]
    if not names:  # the default: the keeper with the file's [keeper] settings
        names, policies = ["keeper"], [keeper_for(config.keeper, ratio, prep.bar_ms)]
    sized, sized_notes = keeper_reserve(prep, settings.leverage, store)
    reserve, notes = 0.0, ()  # type: tuple[float, tuple[str, ...]]
    if "keeper" in names and settings.cash_usd is None:  # --cash sets every run's cash
        reserve, notes = sized, sized_notes
    runs = run_all(prep, policies, names, settings, reserve, tick)
    keeper = keeper_for(config.keeper, ratio, prep.bar_ms)
    hedged = [(run.name, run.result) for run in runs[1:]]
    preventions = prevent(hedged, prep.market, keeper, sized)
    return BacktestOutcome(prep, settings, tuple(runs), notes, preventions)
