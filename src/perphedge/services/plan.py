"""Plan and stress services: a portfolio file -> its hedge plan (and how the plan behaves).

Inputs are resolved through the History port (the local store) or, with `open_live`, through a
MarketData port the caller opens for the venue (perphedge.services.inputs). Orders are planned,
never sent.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from perphedge.config import PortfolioConfig
from perphedge.errors import InputError, require_finite
from perphedge.exchanges.capabilities import require_for, unverified_notes
from perphedge.hedge.sizing import HedgePlan, HedgeSpec, build_plan, hedge_spec
from perphedge.hedge.stress import StressResult, StressSpec, run_stress
from perphedge.instruments import ContractKind
from perphedge.ports import Clock, History, MarketData
from perphedge.services.inputs import STALE_DAYS, AsOf, PlanInputs, resolve, stale_warnings
from perphedge.units import percent_to_fraction

OpenLive = Callable[[str, ContractKind], MarketData]  # (venue, contract kind) -> adapter


@dataclass(frozen=True)
class PlanRequest:
    """The plan's options. Percent values are percent (30 = 30 %); `stale_days` in days."""

    exchange: str | None = None  # None: the file's [hedge].exchange
    min_liq_distance_pct: float = 30.0
    max_funding_cost_pct: float = 5.0
    stale_days: float = STALE_DAYS

    def __post_init__(self) -> None:
        percent_to_fraction("--min-liq-distance", self.min_liq_distance_pct)
        require_finite("--max-funding-cost", self.max_funding_cost_pct)
        if not self.stale_days > 0:
            raise InputError("--stale-days", self.stale_days, "give a number of days > 0, e.g. 7")


@dataclass(frozen=True)
class PlanResult:
    """The plan, the inputs it was built from, notes on them and warnings about stale data."""

    plan: HedgePlan
    inputs: PlanInputs
    notes: tuple[str, ...]
    stale: tuple[str, ...]

    @property
    def as_of(self) -> tuple[AsOf, ...]:
        return self.inputs.as_of


@dataclass(frozen=True)
class StressOutcome:
    """The plan and its stress result."""

    planned: PlanResult
    stress: StressResult


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
    return PlanResult(plan, inputs, notes, stale)


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
    return StressOutcome(planned, run_stress(planned.plan, stress))
