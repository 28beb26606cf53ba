"""Stress scenarios of a hedge plan: price shocks, funding regimes, basis and a short squeeze.

Pure. Every scenario is an instantaneous move from the plan's prices, then the hedge is held
for `horizon_days` (funding accrues at the moved mark) and closed (taker fee). USD throughout;
coin amounts of inverse legs are converted at the moved mark.

Price shock s: every hedge perpetual's mark moves by s; a holding moves by beta x s (beta 1
unless proxy-hedged: the beta says how the coin follows its proxy), floored at -100 %.
  spot P&L    = sum qty x (price after - price before)
  hedge P&L   = the shorts' unrealised P&L at the moved marks (`margin.unrealized_pnl`)
  funding     = events in the horizon x `funding.funding_payment` at the moved mark
  fees        = fees to open (the plan's) + taker fee to close at the moved mark
  net         = spot + hedge + funding - fees
Liquidation ("hedge lost"): an isolated short whose liquidation price lies at or below the moved
mark is liquidated on the way up. It loses its whole isolated margin (what remains at the
liquidation price goes to the exchange's insurance fund), earns no funding and pays no closing
fee; the coins are unhedged from the liquidation price on. Cross legs are liquidated together
when the shared wallet plus their P&L no longer covers their maintenance margin, losing the
whole cross wallet. `value_after` = holdings at the moved prices + what is left in the margin
accounts; `value_before` = holdings + the USDT margin posted (coins backing inverse shorts are
holdings already).
Top-up: the margin to add before the move so that the moved price stays below the liquidation
price: maintenance margin at the moved mark (bracket of the moved notional) minus margin
balance there, re-checked with `margin.liquidation` (the bracket at the new liquidation price).
Funding flows through the margin: every event of the horizon adds its funding (negative: takes
it) to the isolated margin, or to the cross wallet, at the moved mark. A short whose margin
balance (wallet + funding so far + P&L at the moved mark) reaches its maintenance margin at an
event is liquidated by the funding drain on that event's day (`drain_day`): it loses its whole
margin (the funding paid until then came out of it). The top-up then also covers the funding of
the whole horizon: maintenance margin at the end mark minus the balance there after funding.
`margin_ratio` is the real one after the horizon: MM / (wallet + funding + P&L).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from perphedge.errors import InputError, require_finite, require_positive
from perphedge.funding import funding_payment
from perphedge.hedge.sizing import HedgePlan, PlanLeg
from perphedge.margin import (
    MarginMode,
    Position,
    maintenance_margin,
    margin_ratio,
    trade_fee,
    unrealized_pnl,
)

DEFAULT_SHOCKS = (-0.5, -0.25, -0.1, 0.0, 0.1, 0.25, 0.5, 1.0)
DEFAULT_FUNDING_PER_8H = (-0.001, -0.0005, -0.0001, 0.0, 0.0001, 0.0005, 0.001)
DEFAULT_BASIS_BP = (-200.0, -50.0, 50.0, 200.0)
DEFAULT_SQUEEZES = (0.25, 0.5)


def _check_rate(rate: float) -> None:
    if not (math.isfinite(rate) and abs(rate) < 0.05):
        raise InputError("funding rate", rate, "give a rate per 8 h within +-5 %")


@dataclass(frozen=True)
class StressSpec:
    """Which scenarios to run. Shocks and squeeze peaks are fractions (0.1 = +10 %)."""

    shocks: tuple[float, ...] = DEFAULT_SHOCKS
    funding_per_8h: tuple[float, ...] = DEFAULT_FUNDING_PER_8H
    horizon_days: float = 30.0
    basis_bp: tuple[float, ...] = DEFAULT_BASIS_BP
    squeezes: tuple[float, ...] = DEFAULT_SQUEEZES
    shock_funding_per_8h: float | None = None  # funding during price shocks; None: planned

    def __post_init__(self) -> None:
        if not self.shocks:
            raise InputError("shocks", "", "give at least one price shock, e.g. -10,10")
        if self.shock_funding_per_8h is not None:
            _check_rate(self.shock_funding_per_8h)
        for shock in (*self.shocks, *self.squeezes):
            require_finite("shock", shock)
            if shock <= -1.0:
                raise InputError("shock", shock, "a price cannot fall 100 % or more; use > -100")
        for rate in self.funding_per_8h:
            _check_rate(rate)
        require_positive("horizon_days", self.horizon_days)
        for bp in self.basis_bp:
            if not (math.isfinite(bp) and abs(bp) < 5_000):
                raise InputError("basis_bp", bp, "give a basis in basis points within +-5000")


@dataclass(frozen=True)
class Outcome:
    """One scenario's result (USD). `margin_ratio`: worst leg's MM / balance (>= 1 liquidated)."""

    label: str
    shock: float
    spot_pnl: float
    hedge_pnl: float
    funding: float
    fees: float
    net: float
    margin_ratio: float | None
    liquidated: bool
    liquidated_symbols: tuple[str, ...]
    value_before: float
    value_after: float
    top_up: float
    drained_symbols: tuple[str, ...] = ()
    drain_day: float | None = None  # first day a short is liquidated by the funding drain


@dataclass(frozen=True)
class StressResult:
    """Every scenario of a plan."""

    spec: StressSpec
    price_shocks: tuple[Outcome, ...]
    funding: tuple[Outcome, ...]
    basis: tuple[Outcome, ...]
    squeezes: tuple[Outcome, ...]

    @property
    def outcomes(self) -> tuple[Outcome, ...]:
        """Every scenario, family by family."""
        return (*self.price_shocks, *self.funding, *self.basis, *self.squeezes)


@dataclass(frozen=True)
class _LegState:
    """One open leg after a move: P&L and margin figures in USD."""

    leg: PlanLeg
    pos: Position
    mark: float
    pnl: float  # unrealised P&L at the moved mark
    funding: float
    close_fee: float
    mm: float  # maintenance margin at the moved mark
    wallet: float
    events: float  # funding events in the horizon


def _usd(leg: PlanLeg, amount: float, mark: float) -> float:
    return amount * mark if leg.position is not None and leg.position.is_inverse else amount


def _state(leg: PlanLeg, pos: Position, mark: float, rate: float, days: float) -> _LegState:
    events = days * 24.0 / leg.interval_hours
    tiers = leg.instrument.tiers
    return _LegState(
        leg=leg,
        pos=pos,
        mark=mark,
        pnl=_usd(leg, unrealized_pnl(pos, mark), mark),
        funding=_usd(leg, funding_payment(pos, mark, rate) * events, mark),
        close_fee=_usd(leg, trade_fee(pos, mark, leg.instrument.taker_fee), mark),
        mm=_usd(leg, maintenance_margin(pos, mark, tiers), mark),
        wallet=_usd(leg, leg.wallet, mark),
        events=events,
    )


def _is_cross(plan: HedgePlan, leg: PlanLeg) -> bool:
    return plan.spec.margin_mode is MarginMode.CROSS and not leg.instrument.is_inverse


def _posted_usd(plan: HedgePlan) -> float:
    """USDT margin posted: isolated wallets plus the cross wallet once."""
    linear = [leg for leg in plan.legs if leg.position and not leg.instrument.is_inverse]
    cross = [leg.wallet for leg in linear if _is_cross(plan, leg)]
    isolated = [leg.wallet for leg in linear if not _is_cross(plan, leg)]
    return math.fsum(isolated) + (cross[0] if cross else 0.0)


def _top_up(leg: PlanLeg, pos: Position, peak: float) -> float:
    """Settle-currency margin to add so that an isolated short is not liquidated below `peak`.

    Maintenance margin at `peak` (bracket of the notional there) minus the margin balance there:
    with it, the liquidation price is `peak` itself (tests re-check it with `margin.liquidation`).
    """
    tiers = leg.instrument.tiers
    need = maintenance_margin(pos, peak, tiers) - (leg.wallet + unrealized_pnl(pos, peak))
    return max(0.0, need)


def _cross_lost(plan: HedgePlan, peak: list[_LegState]) -> tuple[bool, float]:
    """(liquidated?, top-up in USD) of the legs sharing the cross wallet, at the peak marks."""
    legs = [s for s in peak if _is_cross(plan, s.leg)]
    if not legs:
        return False, 0.0
    shortfall = math.fsum(s.mm for s in legs) - (legs[0].wallet + math.fsum(s.pnl for s in legs))
    return shortfall >= 0, max(0.0, shortfall)


@dataclass(frozen=True)
class _Move:
    label: str
    shock: float
    peak_marks: Mapping[str, float]
    end_marks: Mapping[str, float]
    prices_after: tuple[float, ...]  # per exposure line
    rates: Mapping[str, float]  # per symbol, per its own interval


def _spot_pnl(plan: HedgePlan, prices_after: tuple[float, ...]) -> float:
    pairs = zip(plan.exposures, prices_after, strict=True)
    return math.fsum(e.qty_base * (after - e.price) for e, after in pairs)


def _drain_event(balance: float, mm: float, funding: float, events: float) -> int | None:
    """First funding event (1, 2, ...) at which `balance` + k x (funding / events) <= `mm`, or
    None when the margin lasts the horizon (or funding is received)."""
    per_event = funding / events if events > 0 else 0.0
    if balance <= mm:
        return 0
    if per_event >= 0:
        return None
    k = math.ceil((balance - mm) / -per_event)
    while k > 1 and balance + (k - 1) * per_event <= mm:  # float edge: the earliest event
        k -= 1
    return k if k <= math.floor(events + 1e-9) else None


@dataclass
class _Tally:
    """Running totals of one scenario while its legs are evaluated."""

    hedge: float = 0.0
    funding: float = 0.0
    close_fees: float = 0.0
    top_up: float = 0.0
    ratios: list[float] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    drained: list[str] = field(default_factory=list)
    drain_day: float | None = None

    def drain(self, symbol: str, day: float) -> None:
        self.lost.append(symbol)
        self.drained.append(symbol)
        self.drain_day = day if self.drain_day is None else min(self.drain_day, day)


def _isolated_leg(tally: _Tally, at_peak: _LegState, at_end: _LegState) -> None:
    leg, pos = at_end.leg, at_end.pos
    lp = leg.liquidation_price
    price_top_up = _usd(leg, _top_up(leg, pos, at_peak.mark), at_peak.mark)
    balance = at_end.wallet + at_end.pnl
    end_need = at_end.mm - (balance + at_end.funding)
    tally.top_up += max(price_top_up, end_need, 0.0)
    if lp is not None and at_peak.mark >= lp:
        tally.lost.append(leg.symbol)
        tally.hedge -= at_end.wallet
        return
    k = _drain_event(balance, at_end.mm, at_end.funding, at_end.events)
    if k is not None:  # the whole margin is lost; the funding paid until then came out of it
        paid = at_end.funding * k / at_end.events
        tally.drain(leg.symbol, k * leg.interval_hours / 24.0)
        tally.funding += paid
        tally.hedge -= at_end.wallet + paid
        return
    tally.hedge += at_end.pnl
    tally.funding += at_end.funding
    tally.close_fees += at_end.close_fee
    wallet_end = leg.wallet + at_end.funding / (at_end.mark if pos.is_inverse else 1.0)
    tally.ratios.append(margin_ratio(pos, wallet_end, at_end.mark, leg.instrument.tiers))


def _cross_legs(
    plan: HedgePlan, tally: _Tally, peak: list[_LegState], end: list[_LegState]
) -> None:
    """The legs sharing the cross wallet: lost at the peak, drained by their funding, or kept."""
    legs = [s for s in end if _is_cross(plan, s.leg)]
    if not legs:
        return
    lost_at_peak, top_up = _cross_lost(plan, peak)
    wallet, mm = legs[0].wallet, math.fsum(s.mm for s in legs)
    balance = wallet + math.fsum(s.pnl for s in legs)
    funding = math.fsum(s.funding for s in legs)
    tally.top_up += max(top_up, mm - (balance + funding), 0.0)
    symbols = [s.leg.symbol for s in legs]
    if lost_at_peak:
        tally.lost += symbols
        tally.hedge -= wallet
        return
    events = max(s.events for s in legs)
    k = _drain_event(balance, mm, funding, events)
    if k is not None:
        paid = funding * k / events
        for symbol in symbols:
            tally.drain(symbol, k * legs[0].leg.interval_hours / 24.0)
        tally.funding += paid
        tally.hedge -= wallet + paid
        return
    tally.hedge += math.fsum(s.pnl for s in legs)
    tally.funding += funding
    tally.close_fees += math.fsum(s.close_fee for s in legs)
    after = balance + funding
    tally.ratios.append(math.inf if after <= 0 else mm / after)


def _evaluate(plan: HedgePlan, move: _Move, days: float) -> Outcome:
    spot = _spot_pnl(plan, move.prices_after)
    open_legs = [(leg, leg.position) for leg in plan.legs if leg.position is not None]
    peak = [_state(lg, p, move.peak_marks[lg.symbol], 0.0, days) for lg, p in open_legs]
    end = [
        _state(lg, p, move.end_marks[lg.symbol], move.rates[lg.symbol], days) for lg, p in open_legs
    ]
    tally = _Tally()
    for at_peak, at_end in zip(peak, end, strict=True):
        if not _is_cross(plan, at_end.leg):
            _isolated_leg(tally, at_peak, at_end)
    _cross_legs(plan, tally, peak, end)
    fees = plan.fees_open_usd + tally.close_fees
    net = spot + tally.hedge + tally.funding - fees
    before = plan.total_exposure + _posted_usd(plan)
    lost = tuple(leg.symbol for leg in plan.legs if leg.symbol in tally.lost)
    worst = math.inf if lost else (max(tally.ratios) if tally.ratios else None)
    return Outcome(
        move.label, move.shock, spot, tally.hedge, tally.funding, fees, net, worst, bool(lost),
        lost, before, before + net, tally.top_up, tuple(tally.drained), tally.drain_day,
    )  # fmt: skip


def _marks(plan: HedgePlan, move: float) -> dict[str, float]:
    return {leg.symbol: leg.mark * (1.0 + move) for leg in plan.legs}


def _planned_rates(plan: HedgePlan) -> dict[str, float]:
    return {leg.symbol: leg.rate_per_interval for leg in plan.legs}


def _shocked_prices(plan: HedgePlan, shock: float) -> tuple[float, ...]:
    return tuple(e.price * max(0.0, 1.0 + e.beta * shock) for e in plan.exposures)


def _regime_rates(plan: HedgePlan, rate_per_8h: float) -> dict[str, float]:
    """`rate_per_8h` scaled to each perpetual's own funding interval."""
    return {leg.symbol: rate_per_8h * leg.interval_hours / 8.0 for leg in plan.legs}


def price_shock(
    plan: HedgePlan, shock: float, days: float, rate_per_8h: float | None = None
) -> Outcome:
    """Every perpetual moves by `shock`, each holding by beta x shock; funding at the planned
    rates, or at `rate_per_8h` when given."""
    marks = _marks(plan, shock)
    rates = _planned_rates(plan) if rate_per_8h is None else _regime_rates(plan, rate_per_8h)
    move = _Move(f"{shock:+.0%}", shock, marks, marks, _shocked_prices(plan, shock), rates)
    return _evaluate(plan, move, days)


def funding_regime(plan: HedgePlan, rate_per_8h: float, days: float) -> Outcome:
    """No price move; every perpetual pays `rate_per_8h` (scaled to its interval) for `days`."""
    rates = _regime_rates(plan, rate_per_8h)
    marks = _marks(plan, 0.0)
    move = _Move(f"{rate_per_8h:+.2%}/8h", 0.0, marks, marks, _shocked_prices(plan, 0.0), rates)
    return _evaluate(plan, move, days)


def basis_shock(plan: HedgePlan, basis_bp: float, days: float) -> Outcome:
    """Perpetual marks move `basis_bp` against unchanged spot prices (perp above spot: > 0)."""
    marks = _marks(plan, basis_bp / 10_000.0)
    move = _Move(
        f"basis {basis_bp:+g}bp", 0.0, marks, marks, _shocked_prices(plan, 0.0),
        _planned_rates(plan),
    )  # fmt: skip
    return _evaluate(plan, move, days)


def short_squeeze(plan: HedgePlan, peak: float, days: float) -> Outcome:
    """Prices spike by `peak` and revert to where they started: only liquidation leaves a mark."""
    move = _Move(
        f"{peak:+.0%} and back", peak, _marks(plan, peak), _marks(plan, 0.0),
        _shocked_prices(plan, 0.0), _planned_rates(plan),
    )  # fmt: skip
    return _evaluate(plan, move, days)


def run_stress(plan: HedgePlan, spec: StressSpec) -> StressResult:
    """Every scenario of `spec` applied to `plan`."""
    days = spec.horizon_days
    return StressResult(
        spec,
        tuple(price_shock(plan, s, days, spec.shock_funding_per_8h) for s in spec.shocks),
        tuple(funding_regime(plan, r, days) for r in spec.funding_per_8h),
        tuple(basis_shock(plan, bp, days) for bp in spec.basis_bp),
        tuple(short_squeeze(plan, p, days) for p in spec.squeezes),
    )


SAFER_LEVERAGES = (10.0, 5.0, 3.0, 2.0, 1.5, 1.0)  # tried, highest first, below the plan's


def safe_leverages(
    result: StressResult, leverage: float, at_leverage: Callable[[float], StressResult]
) -> tuple[float | None, ...]:
    """Per scenario of `result` (`outcomes` order): None when it is not liquidated, else the
    highest of SAFER_LEVERAGES below `leverage` at which the same scenario is not liquidated
    (`at_leverage(x)`: the stress result of the same plan at x), None when none is."""
    safe: list[float | None] = [None] * len(result.outcomes)
    todo = {k for k, o in enumerate(result.outcomes) if o.liquidated}
    for lev in (x for x in SAFER_LEVERAGES if x < leverage):
        if not todo:
            break
        again = at_leverage(lev).outcomes
        for k in [k for k in todo if not again[k].liquidated]:
            safe[k] = lev
            todo.discard(k)
    return tuple(safe)
