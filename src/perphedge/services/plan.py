"""Plan and stress services: a portfolio file -> its hedge plan (and how the plan behaves).

Inputs are resolved through the History port (the local store) or, with `open_live`, through a
MarketData port the caller opens for the venue (perphedge.services.inputs). Orders are planned,
never sent.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, replace

from perphedge.config import PortfolioConfig
from perphedge.errors import InputError, require_finite
from perphedge.exchanges.capabilities import require_for, unverified_notes
from perphedge.hedge.keeper import LegState
from perphedge.hedge.reserve import ReservePlan, plan_reserve
from perphedge.hedge.sizing import HedgePlan, HedgeSpec, build_plan, hedge_spec
from perphedge.hedge.stress import StressResult, StressSpec, run_stress, safe_leverages
from perphedge.instruments import ContractKind
from perphedge.ports import Clock, History, MarketData
from perphedge.services.inputs import (
    STALE_DAYS,
    AsOf,
    PlanInputs,
    leg_history,
    resolve,
    stale_warnings,
)
from perphedge.units import percent_to_fraction

OpenLive = Callable[[str, ContractKind], MarketData]  # (venue, contract kind) -> adapter


@dataclass(frozen=True)
class PlanRequest:
    """The plan's options. Percent values are percent (30 = 30 %); `stale_days` in days."""

    exchange: str | None = None  # None: the file's [hedge].exchange
    min_liq_distance_pct: float = 30.0
    max_funding_cost_pct: float = 5.0
    stale_days: float = STALE_DAYS
    reserve_quantile_pct: float = 95.0

    def __post_init__(self) -> None:
        percent_to_fraction("--min-liq-distance", self.min_liq_distance_pct)
        if not 0.0 < self.reserve_quantile_pct <= 100.0:
            raise InputError(
                "--reserve-quantile",
                self.reserve_quantile_pct,
                "give a percent in (0, 100], e.g. 95",
            )
        require_finite("--max-funding-cost", self.max_funding_cost_pct)
        if not (math.isfinite(self.stale_days) and self.stale_days > 0):
            raise InputError("--stale-days", self.stale_days, "give a number of days > 0, e.g. 7")


@dataclass(frozen=True)
class PlanResult:
    """The plan, the inputs it was built from, notes on them and warnings about stale data."""

    plan: HedgePlan
    inputs: PlanInputs
    notes: tuple[str, ...]
    stale: tuple[str, ...]
    reserve: ReservePlan | None = None  # the keeper's reserve, sized on stored history

    @property
    def as_of(self) -> tuple[AsOf, ...]:
        return self.inputs.as_of

    @property
    def as_of_ms(self) -> int | None:
        """The plan's time: the latest of the stored prices it used, else of any stored figure
        (funding, when the file gives every price); None when it read nothing stored."""
        prices = [a.ts_ms for a in self.as_of if a.ts_ms is not None and a.kind == "price"]
        every = [a.ts_ms for a in self.as_of if a.ts_ms is not None]
        return max(prices or every, default=None)


@dataclass(frozen=True)
class StressOutcome:
    """The plan and its stress result."""

    planned: PlanResult
    stress: StressResult
    # per scenario (StressResult.outcomes order): for a liquidated one, the highest lower
    # leverage at which it is not (None: none, or not liquidated)
    safe_leverage: tuple[float | None, ...] = ()


def plan_spec(cfg: PortfolioConfig, request: PlanRequest) -> HedgeSpec:
    """The HedgeSpec of `cfg` under `request` (percent options become fractions here)."""
    return hedge_spec(
        cfg.hedge,
        request.exchange,
        min_liquidation_distance=request.min_liq_distance_pct / 100.0,
        max_funding_cost_apr=request.max_funding_cost_pct / 100.0,
    )


def plan_portfolio(
    cfg: PortfolioConfig,
    request: PlanRequest,
    history: History,
    clock: Clock,
    open_live: OpenLive | None = None,
) -> PlanResult:
    """The hedge plan for `cfg`: offline from `history`, or from the venue when `open_live`."""
    spec = plan_spec(cfg, request)
    inverse = spec.kind is ContractKind.INVERSE
    live = open_live is not None
    unverified = require_for("plan", spec.exchange, coin_margined=inverse, live=live)
    market = open_live(spec.exchange, spec.kind) if open_live is not None else None
    inputs = resolve(cfg, spec.exchange, spec.kind, history, market)
    plan = build_plan(inputs.portfolio, spec, inputs.prices, inputs.markets, inputs.unbundled)
    notes = inputs.notes + unverified_notes(spec.exchange, unverified)
    stale = stale_warnings(inputs.as_of, clock.now_ms(), request.stale_days)
    reserve, missing = keeper_reserve(cfg, plan, history, request.reserve_quantile_pct / 100.0)
    return PlanResult(plan, inputs, notes + missing, stale, reserve)


def keeper_reserve(
    cfg: PortfolioConfig, plan: HedgePlan, history: History, quantile: float
) -> tuple[ReservePlan | None, tuple[str, ...]]:
    """The keeper's reserve for `plan`'s open legs on stored history (`hedge.reserve`), and
    notes on legs left out for want of stored marks."""
    states, histories, notes = [], [], []
    for leg in plan.legs:
        if leg.position is None:
            continue
        h = leg_history(history, plan.spec.exchange, leg.symbol)
        if h is None:
            notes.append(f"no stored daily marks of {leg.symbol}: its keeper reserve is not sized")
            continue
        coins = leg.notional_usd / leg.mark  # the short's coins at the mark (ratio x beta in)
        states.append(
            LegState(
                instrument=leg.instrument, coins_held=coins, spot_price=leg.mark, mark=leg.mark,
                hedge_ratio=1.0, size=0.0, margin=0.0, leverage=plan.spec.leverage,
            )
        )  # fmt: skip
        histories.append(h)
    if not states:
        return None, tuple(notes)
    return plan_reserve(states, histories, cfg.keeper, quantile), tuple(notes)


def stress_portfolio(
    cfg: PortfolioConfig,
    request: PlanRequest,
    stress: StressSpec,
    history: History,
    clock: Clock,
    open_live: OpenLive | None = None,
) -> StressOutcome:
    """`cfg`'s plan under price shocks, funding regimes, basis and squeezes."""
    planned = plan_portfolio(cfg, request, history, clock, open_live)
    plan, inputs = planned.plan, planned.inputs
    result = run_stress(plan, stress)

    def at_leverage(leverage: float) -> StressResult:
        spec = replace(plan.spec, leverage=leverage)
        again = build_plan(inputs.portfolio, spec, inputs.prices, inputs.markets, inputs.unbundled)
        return run_stress(again, stress)

    safe = safe_leverages(result, plan.spec.leverage, at_leverage)
    return StressOutcome(planned, result, safe)
