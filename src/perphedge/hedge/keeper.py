"""The keeper: the policy that keeps a short hedge alive while the coins rally.

Pure: state in, decisions out; no I/O, no clock (`now_ms` is an argument). The live and paper
loop, the backtest and stress all ask this module what to do, so one policy runs everywhere.

Per leg, in this order (`keep`):

1. **Funding regime** (only with `funding_action` reduce or unwind). The trailing funding cost to
   the short (`LegState.funding_cost_apr`, > 0: the short pays) above `funding_limit_apr`
   switches the leg to reduced (target x `funding_reduced_ratio`) or unwound (target 0); below
   `funding_limit_apr - funding_hysteresis_apr` it is restored. No switch within
   `funding_min_hold_hours` of the previous one.
2. **Lost short.** A leg whose short was liquidated (`liquidated_ms`) is re-opened at the target
   size and the planned leverage once `reopen_cooldown_hours` have passed (with `reopen`);
   until then every step raises an alert, so the coins are never unhedged silently.
3. **Re-size on drift.** The target short is hedge_ratio x coins x spot (USD); when the short's
   notional at the mark is off by more than `drift_band` x target (or the funding regime
   changed) it is re-sized to the target. Growing a short draws the added notional / leverage
   from the reserve into its margin (as an exchange does); shrinking one leaves the margin.
4. **Margin.** Distances are (liquidation price - mark) / mark from `margin.liquidation`. Below
   `min_distance`, margin is added from the reserve until the distance is `target_distance`
   (`margin.wallet_for_liquidation_at`). When the reserve runs short (`on_shortfall`):
   - sell_spot (needs `spot_on_exchange` and coins on the exchange): sell just enough spot,
     reduce the short in the same proportion (the hedge ratio holds) and move the proceeds to
     the margin; what the coins on the exchange cannot cover is alerted;
   - delever: reduce the short until the margin there is enough for `target_distance`;
   - alert: say how much to move (USD) and how far the liquidation is after the reserve.
   With `return_surplus`, margin above what `surplus_distance` needs goes back to the reserve
   (down to `target_distance`, never below the initial margin at the planned leverage).

Amounts: a leg's `margin` is its isolated margin balance (wallet + unrealised P&L) in the settle
currency (USDT for linear, the coin for inverse); the reserve is USD, converted at the mark.
Decisions value the position at the mark (entry = mark, margin = balance), which gives the
same liquidation price as the exchange's wallet and entry. Only isolated legs are kept here;
fees of the trades the decisions imply are left to the executor.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

from perphedge.errors import require_non_negative, require_positive
from perphedge.hedge.keeper_model import (
    HOUR_MS,
    TINY,
    Action,
    ActionKind,
    FundingAction,
    KeeperDecision,
    KeeperPolicy,
    LegDecision,
    LegMemory,
    LegState,
    Shortfall,
)
from perphedge.margin import (
    Position,
    Side,
    liquidation,
    usd_notional_of,
    wallet_for_liquidation_at,
)
from perphedge.units import cents_down

__all__ = [
    "HOUR_MS",
    "Action",
    "ActionKind",
    "FundingAction",
    "KeeperDecision",
    "KeeperPolicy",
    "LegDecision",
    "LegMemory",
    "LegState",
    "Shortfall",
    "distance",
    "funding_cost_apr",
    "funding_switch",
    "initial_margin",
    "keep",
    "margin_for_distance",
    "notional_usd",
    "target_size",
    "trailing_cost_apr",
]

_BISECT_STEPS = 100


def funding_cost_apr(rates: Sequence[float], interval_hours: float) -> float:
    """Trailing funding cost to a short as an APR (> 0: the short pays): minus the mean rate per
    interval times the intervals in a year (the sign rule of `perphedge.funding`)."""
    require_positive("interval_hours", interval_hours)
    return trailing_cost_apr(math.fsum(rates), float(len(rates)), interval_hours)


def trailing_cost_apr(rate_sum: float, n_rates: float, interval_hours: float) -> float:
    """`funding_cost_apr` from the sum of `n_rates` rates per interval (0 without rates).

    On scalars only, so the backtest kernel compiles this very function (numba, inline)."""
    if n_rates <= 0.0:
        return 0.0
    return -rate_sum / n_rates * (365.0 * 24.0 / interval_hours)


def funding_switch(
    reduced: bool, elapsed: float, cost_apr: float, limit_apr: float, hysteresis_apr: float,
    min_hold: float,
) -> bool:  # fmt: skip
    """Step 1's rule: does the funding regime switch now? A leg at full size is reduced when the
    trailing cost passes `limit_apr`; a reduced one is restored when the cost falls below
    `limit_apr - hysteresis_apr`; neither within `min_hold` of the previous switch (`elapsed`
    since it, in the same unit; inf when there was none).

    On scalars only, so the backtest kernel compiles this very function (numba, inline)."""
    if elapsed < min_hold:
        return False
    if reduced:
        return cost_apr < limit_apr - hysteresis_apr
    return cost_apr > limit_apr


def _position(leg: LegState, size: float) -> Position:
    inst = leg.instrument
    return Position(Side.SHORT, size, leg.mark, inst.kind, inst.contract_size)


def distance(leg: LegState, size: float, margin: float) -> float | None:
    """(liquidation price - mark) / mark of a short of `size` with margin balance `margin`;
    None when there is no short, inf when it cannot be liquidated, <= 0 when it is due."""
    if size <= 0.0:
        return None
    inst = leg.instrument
    liq = liquidation(
        _position(leg, size), margin, inst.tiers, rules=leg.rules, taker_fee=inst.taker_fee
    )
    return math.inf if liq.price is None else (liq.price - leg.mark) / leg.mark


def margin_for_distance(leg: LegState, size: float, dist: float) -> float:
    """Margin balance (settle currency) that puts a short of `size` `dist` from liquidation."""
    if size <= 0.0:
        return 0.0
    inst = leg.instrument
    price = leg.mark * (1.0 + dist)
    return wallet_for_liquidation_at(
        _position(leg, size), price, inst.tiers, rules=leg.rules, taker_fee=inst.taker_fee
    )


def target_size(leg: LegState, coins: float, scale: float = 1.0) -> float:
    """Short size (coins linear, contracts inverse) for hedge_ratio x coins x spot x scale."""
    usd = max(leg.hedge_ratio * coins * leg.spot_price * scale, 0.0)
    inst = leg.instrument
    return usd / inst.contract_size if inst.is_inverse else usd / (leg.mark * inst.contract_size)


def notional_usd(leg: LegState, size: float) -> float:
    inst = leg.instrument
    return usd_notional_of(size, leg.mark, inst.contract_size, inst.is_inverse)


def initial_margin(leg: LegState, size: float) -> float:
    """Notional / leverage in the settle currency."""
    return notional_usd(leg, size) / leg.usd_per_settle / leg.leverage


@dataclass
class _Leg:
    """The mutable working copy of one leg while `keep` decides (never leaves this module)."""

    state: LegState
    size: float
    margin: float
    coins: float
    on_exchange: float
    memory: LegMemory
    reserve_usd: float
    actions: list[Action]

    def act(self, kind: ActionKind, message: str, **amounts: float) -> None:
        dist = distance(self.state, self.size, self.margin)
        self.actions.append(
            Action(kind, self.state.symbol, self.size, self.margin, distance_after=dist,
                   message=message, **amounts)
        )  # fmt: skip

    def move_margin(self, settle: float) -> float:
        """Move `settle` into the margin from the reserve (negative: back); returns USD."""
        usd = settle * self.state.usd_per_settle
        self.margin += settle
        self.reserve_usd -= usd
        return usd

    def reserve_settle(self) -> float:
        return max(self.reserve_usd, 0.0) / self.state.usd_per_settle


def keep(
    policy: KeeperPolicy, legs: Sequence[LegState], reserve_usd: float, now_ms: int
) -> KeeperDecision:
    """Decide, for every leg in order, what keeps its short alive (module docstring).

    The reserve (USD) is shared: legs earlier in `legs` draw on it first.
    """
    require_non_negative("reserve_usd", reserve_usd)
    decided: list[LegDecision] = []
    for state in legs:
        work = _Leg(state, state.size, state.margin, state.coins_held,
                    min(state.coins_on_exchange, state.coins_held), state.memory, reserve_usd, [])  # fmt: skip
        _keep_leg(policy, work, now_ms)
        reserve_usd = work.reserve_usd
        dist = distance(state, work.size, work.margin)
        decided.append(
            LegDecision(state.symbol, tuple(work.actions), work.size, work.margin, work.coins,
                        dist, work.memory)
        )  # fmt: skip
    return KeeperDecision(tuple(decided), reserve_usd)


def _keep_leg(policy: KeeperPolicy, leg: _Leg, now_ms: int) -> None:
    scale, switched = _funding(policy, leg, now_ms)
    if leg.size <= 0.0 and leg.memory.liquidated_ms is not None:
        if not _reopen(policy, leg, now_ms, scale):
            return
    else:
        _resize(policy, leg, scale, switched)
    if leg.size > 0.0:
        _margin(policy, leg)


def _funding(policy: KeeperPolicy, leg: _Leg, now_ms: int) -> tuple[float, ActionKind | None]:
    """Step 1: (target scale, the switch made now if any); updates the leg's memory."""
    if policy.funding_action is FundingAction.KEEP:
        return 1.0, None
    memory = leg.memory
    elapsed = math.inf if memory.switched_ms is None else float(now_ms - memory.switched_ms)
    switched: ActionKind | None = None
    if funding_switch(
        memory.reduced, elapsed, leg.state.funding_cost_apr, policy.funding_limit_apr,
        policy.funding_hysteresis_apr, policy.funding_min_hold_hours * HOUR_MS,
    ):  # fmt: skip
        leg.memory = replace(memory, reduced=not memory.reduced, switched_ms=now_ms)
        switched = ActionKind.FUNDING_RESTORE if memory.reduced else ActionKind.FUNDING_REDUCE
    if not leg.memory.reduced:
        return 1.0, switched
    unwind = policy.funding_action is FundingAction.UNWIND
    return (0.0 if unwind else policy.funding_reduced_ratio), switched


def _set_size(leg: _Leg, size: float) -> float:
    """Re-size the short; growing it draws the added initial margin from the reserve (USD)."""
    added = max(size - leg.size, 0.0)
    leg.size = size
    return leg.move_margin(initial_margin(leg.state, added)) if added > 0.0 else 0.0


def _resize(policy: KeeperPolicy, leg: _Leg, scale: float, switched: ActionKind | None) -> None:
    """Step 3: re-size on drift, or at once when the funding regime switched."""
    state = leg.state
    target = target_size(state, leg.coins, scale)
    current_usd, target_usd = notional_usd(state, leg.size), notional_usd(state, target)
    drifted = abs(current_usd - target_usd) > policy.drift_band * target_usd
    if target == leg.size or not (drifted or switched):
        return
    kind = switched or ActionKind.RESIZE
    before = current_usd
    used = _set_size(leg, target)
    why = {
        ActionKind.RESIZE: "the short drifted from its target",
        ActionKind.FUNDING_REDUCE: f"funding costs {state.funding_cost_apr:.1%} a year, above the limit",
        ActionKind.FUNDING_RESTORE: f"funding costs {state.funding_cost_apr:.1%} a year, back under the limit",
    }[kind]
    leg.act(kind, f"{why}: short {before:,.2f} -> {target_usd:,.2f} USD",
            reserve_usd=used, margin_move=used / state.usd_per_settle)  # fmt: skip


def _reopen(policy: KeeperPolicy, leg: _Leg, now_ms: int, scale: float) -> bool:
    """Step 2: re-open a lost short after the cooldown; alert while it stays unhedged."""
    state, lost = leg.state, leg.memory.liquidated_ms
    assert lost is not None
    due = lost + policy.reopen_cooldown_hours * HOUR_MS
    if not policy.reopen or now_ms < due:
        when = (
            f"re-opens after {policy.reopen_cooldown_hours:g} h"
            if policy.reopen
            else "re-open is off"
        )
        value = state.hedge_ratio * leg.coins * state.spot_price
        leg.act(ActionKind.ALERT, f"the short was liquidated; {value:,.2f} USD "
                f"of coins are unhedged ({when})", amount_usd=initial_margin(state, target_size(state, leg.coins, scale)) * state.usd_per_settle)  # fmt: skip
        return False
    leg.memory = replace(leg.memory, liquidated_ms=None)
    size = target_size(state, leg.coins, scale)
    used = _set_size(leg, size)
    leg.act(ActionKind.REOPEN, f"short re-opened at {state.leverage:g}x "
            f"({notional_usd(state, size):,.2f} USD)", reserve_usd=used,
            margin_move=used / state.usd_per_settle)  # fmt: skip
    return True


def _margin(policy: KeeperPolicy, leg: _Leg) -> None:
    """Step 4: top up below min_distance (reserve, then the shortfall rule), or return surplus."""
    state = leg.state
    dist = distance(state, leg.size, leg.margin)
    assert dist is not None
    if dist < policy.min_distance:
        need = margin_for_distance(state, leg.size, policy.target_distance) - leg.margin
        take = min(need, leg.reserve_settle())
        if take > 0.0:
            usd = leg.move_margin(take)
            leg.act(ActionKind.TOP_UP, f"liquidation {dist:.1%} away: "
                    f"{cents_down(usd):,.2f} USD of margin added from the reserve",
                    margin_move=take, reserve_usd=usd)  # fmt: skip
        if need - take > TINY * max(1.0, need):
            _shortfall(policy, leg)
    elif policy.return_surplus and dist > policy.surplus_distance:
        keep_margin = max(margin_for_distance(state, leg.size, policy.target_distance),
                          initial_margin(state, leg.size))  # fmt: skip
        back = leg.margin - keep_margin
        if back > 0.0:
            usd = -leg.move_margin(-back)
            leg.act(ActionKind.RETURN_SURPLUS, f"{cents_down(usd):,.2f} USD of surplus "
                    "margin returned to the reserve", margin_move=-back, reserve_usd=-usd)  # fmt: skip


def _shortfall(policy: KeeperPolicy, leg: _Leg) -> None:
    """The reserve is spent and the leg is still short of target_distance."""
    sell = policy.on_shortfall is Shortfall.SELL_SPOT and policy.spot_on_exchange
    if sell and leg.on_exchange > 0.0:
        _sell_spot(policy, leg)
    elif policy.on_shortfall is Shortfall.DELEVER:
        _delever(policy, leg)
    missing = margin_for_distance(leg.state, leg.size, policy.target_distance) - leg.margin
    if missing > TINY * max(1.0, abs(leg.margin)):
        _alert(policy, leg, missing)


def _proceeds(leg: _Leg, coins: float) -> float:
    """Settle currency from selling `coins` of spot (bought as coin at the mark, inverse)."""
    return coins * leg.state.spot_price / leg.state.usd_per_settle


def _sell_spot(policy: KeeperPolicy, leg: _Leg) -> None:
    """Sell x coins, shrink the short by the same fraction of the holding, proceeds to margin."""
    state, size0, coins0 = leg.state, leg.size, leg.coins
    per_coin = size0 / coins0 if coins0 > 0.0 else 0.0

    def surplus(x: float) -> float:
        size = per_coin * (coins0 - x)
        return (
            leg.margin
            + _proceeds(leg, x)
            - margin_for_distance(state, size, policy.target_distance)
        )

    hi = leg.on_exchange
    if surplus(hi) < 0.0:
        x = hi
    else:
        lo = 0.0
        for _ in range(_BISECT_STEPS):
            mid = 0.5 * (lo + hi)
            lo, hi = (lo, mid) if surplus(mid) >= 0.0 else (mid, hi)
        x = hi
    leg.coins -= x
    leg.on_exchange -= x
    leg.size = per_coin * leg.coins
    proceeds = _proceeds(leg, x)
    leg.margin += proceeds
    extra = leg.margin - margin_for_distance(state, leg.size, policy.target_distance)
    if extra > 0.0:  # the last sliver of the bisection goes to the reserve
        leg.move_margin(-extra)
    leg.act(ActionKind.SELL_SPOT, f"reserve spent: sold {x:.8g} coins "
            f"({proceeds * state.usd_per_settle:,.2f} USD) into the margin and reduced the short "
            "in step", spot_sold=x, margin_move=proceeds - max(extra, 0.0))  # fmt: skip


def _delever(policy: KeeperPolicy, leg: _Leg) -> None:
    """Shrink the short until its margin puts it target_distance from liquidation."""
    state, lo, hi = leg.state, 0.0, leg.size
    for _ in range(_BISECT_STEPS):
        mid = 0.5 * (lo + hi)
        enough = margin_for_distance(state, mid, policy.target_distance) <= leg.margin
        lo, hi = (mid, hi) if enough else (lo, mid)
    before = notional_usd(state, leg.size)
    leg.size = lo
    leg.act(ActionKind.DELEVER, "reserve spent: short reduced "
            f"{before:,.2f} -> {notional_usd(state, lo):,.2f} USD to keep it alive")  # fmt: skip


def _alert(policy: KeeperPolicy, leg: _Leg, missing_settle: float) -> None:
    state = leg.state
    usd = missing_settle * state.usd_per_settle
    dist = distance(state, leg.size, leg.margin)
    left = "none: the mark is past it" if dist is None or dist <= 0 else f"{dist:.1%}"
    leg.act(ActionKind.ALERT, f"move {usd:,.2f} USD to the margin: the "
            f"liquidation is {left} away (keeper minimum {policy.min_distance:.0%}, target "
            f"{policy.target_distance:.0%})", amount_usd=usd)  # fmt: skip
