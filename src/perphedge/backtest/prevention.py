"""What would have prevented a backtest's liquidations: the same history run again (pure).

For every run that lost a short (`prevent`):

* a lower leverage: the same spec at each of SAFER_LEVERAGES below its leverage, highest first,
  with the initial margin at that leverage as its cash (plus the reserve for the keeper); the
  first with no liquidation is named (None: not even 1x lives through this history);
* the keeper: a keeper run among `runs` with no liquidation, else `keeper` with `reserve_usd`
  beside the initial margin, then two and four times that reserve; the first with no
  liquidation is named with its settings, the reserve it held and what it used (None: none).

Each is a full backtest on the same data, so what the words claim is what a run showed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from perphedge.backtest.engine import run_backtest
from perphedge.backtest.from_portfolio import start_margin_usd
from perphedge.backtest.policies import Keeper
from perphedge.backtest.result import BacktestResult
from perphedge.backtest.spec import BacktestSpec, MarketArrays

SAFER_LEVERAGES = (10.0, 5.0, 3.0, 2.0, 1.5, 1.0)
RESERVE_STEPS = (1.0, 2.0, 4.0)


@dataclass(frozen=True)
class KeptAlive:
    """A keeper run on the same history with no liquidation."""

    keeper: Keeper
    reserve_usd: float  # the reserve it held beside the initial margin
    reserve_used_usd: float  # top-ups from it
    spot_sold_usd: float
    own_run: bool  # one of the runs shown (else a run made for this advice)


@dataclass(frozen=True)
class Prevention:
    """What would have kept run `run`'s shorts alive (see the module docstring)."""

    run: str
    leverage: float
    safe_leverage: float | None
    kept_alive: KeptAlive | None


def _margin(spec: BacktestSpec, data: MarketArrays, leverage: float) -> float:
    return start_margin_usd(spec.legs, data.spot[0], spec.policy.params()[0], leverage)


def _safe_leverage(spec: BacktestSpec, data: MarketArrays, reserve_usd: float) -> float | None:
    """The highest of SAFER_LEVERAGES below the spec's at which it loses no short."""
    reserve = reserve_usd if isinstance(spec.policy, Keeper) else 0.0
    for lev in (x for x in SAFER_LEVERAGES if x < spec.leverage):
        cash = _margin(spec, data, lev) + reserve
        if run_backtest(replace(spec, leverage=lev, initial_cash_usd=cash), data).liquidations == 0:
            return lev
    return None


def _keeper_alive(
    runs: Sequence[tuple[str, BacktestResult]], data: MarketArrays, keeper: Keeper,
    reserve_usd: float,
) -> KeptAlive | None:  # fmt: skip
    for _, result in runs:
        policy = result.spec.policy
        if isinstance(policy, Keeper) and result.liquidations == 0:
            reserve = result.spec.initial_cash_usd - _margin(
                result.spec, data, result.spec.leverage
            )
            return KeptAlive(policy, reserve, result.top_ups, result.spot_sold_usd, True)
    spec = replace(runs[0][1].spec, policy=keeper)
    margin = _margin(spec, data, spec.leverage)
    for step in RESERVE_STEPS:
        reserve = reserve_usd * step
        result = run_backtest(replace(spec, initial_cash_usd=margin + reserve), data)
        if result.liquidations == 0:
            return KeptAlive(keeper, reserve, result.top_ups, result.spot_sold_usd, False)
    return None


def prevent(
    runs: Sequence[tuple[str, BacktestResult]], data: MarketArrays, keeper: Keeper,
    reserve_usd: float,
) -> tuple[Prevention, ...]:  # fmt: skip
    """One Prevention per run (name, result) with a liquidation; `keeper` and `reserve_usd`:
    the keeper to try and its reserve, sized before the start."""
    lost = [(name, r) for name, r in runs if r.liquidations > 0]
    if not lost:
        return ()
    alive = _keeper_alive(runs, data, keeper, reserve_usd)
    return tuple(
        Prevention(name, r.spec.leverage, _safe_leverage(r.spec, data, reserve_usd), alive)
        for name, r in lost
    )
