"""The keeper for a cross-margined account: one wallet margins every short.

Pure, like `perphedge.hedge.keeper`, whose per-leg steps (funding regime, re-open, re-size on
drift) it runs unchanged; only the margin step is the wallet's:

* **Distance to liquidation of the wallet** (`wallet_distance`): the uniform rally x of every
  mark at which the wallet's margin balance reaches the maintenance margin of all its shorts,
      balance = sum_i WB_i(mark_i * (1 + x)),   WB_i(P) = MM_i(P) - PnL_i(P)
  (`perphedge.margin.wallet_for_liquidation_at`, the isolated wallet that puts leg i's
  liquidation at P; positions valued at the mark, so the balance is the cross wallet plus the
  unrealised P&L). With one leg it is that leg's isolated distance on the same money. A rally
  of all the coins together is what drains a hedge's wallet, so this is the distance the keeper
  keeps.
* **Top up by transfer.** Below `min_distance`, move USD from the reserve (the spot wallet)
  into the futures wallet until the distance is `target_distance`; what the reserve cannot
  cover is an alert with the amount and the distance left.
* **Margin to grow.** When a leg grows (re-opened after a liquidation, re-sized up), the
  wallet's margin balance must also carry every short's initial margin at the planned leverage
  plus the taker fee of what is added (`opening_margin`): a cross liquidation leaves the
  wallet empty, so a re-open is funded from the reserve first. What the reserve cannot cover
  of it is `unfunded_usd`: the growing legs are not sent (the caller alerts).

Linear (USD-settled) legs only: a cross wallet of coin-margined legs is one coin per wallet.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, replace

from perphedge.errors import InputError, require_finite, require_non_negative
from perphedge.hedge.keeper import (
    KeeperDecision,
    initial_margin,
    keep,
    margin_for_distance,
    notional_usd,
)
from perphedge.hedge.keeper_model import TINY, KeeperPolicy, LegState
from perphedge.margin import Position, Side, fee_of, wallet_for_liquidation_at
from perphedge.units import cents_down

_BISECT_STEPS = 100
_FAR = 100.0  # a rally of 10,000 %: beyond it a wallet counts as never liquidated
WALLET = "cross wallet"  # the subject of the wallet's step and alerts


@dataclass(frozen=True)
class CrossDecision:
    """The per-leg decisions (their margin steps left to the wallet) and the wallet's.

    distance / distance_after: the wallet's distance before / after the transfer (None: no
    short; inf: too far to matter). transfer_usd: to move from the reserve into the futures
    wallet. missing_usd: what the reserve could not cover (alerted); unfunded_usd: of it, the
    initial margin the growing legs lack (they are not sent). message: the wallet's step in
    words, without its subject ("" when it does nothing); `line` puts "cross wallet" first."""

    legs: KeeperDecision
    distance: float | None
    transfer_usd: float
    distance_after: float | None
    missing_usd: float
    reserve_usd: float
    message: str
    unfunded_usd: float = 0.0

    @property
    def line(self) -> str:
        """The wallet's step on a line of its own (as `hedge keep` prints it)."""
        return f"{WALLET}: {self.message}"


def _shorts(legs: Sequence[tuple[LegState, float]]) -> list[tuple[LegState, float]]:
    for leg, _ in legs:
        if leg.instrument.is_inverse:
            raise InputError(
                "margin_mode", "cross", "keep coin-margined legs isolated (one coin per wallet)"
            )
    return [(leg, size) for leg, size in legs if size > 0.0]


def wallet_needed(legs: Sequence[tuple[LegState, float]], rally: float) -> float:
    """Margin balance (USD) at which the wallet liquidates when every mark is up `rally`;
    `legs` are (state, short size)."""
    total = 0.0
    for leg, size in _shorts(legs):
        inst = leg.instrument
        pos = Position(Side.SHORT, size, leg.mark, inst.kind, inst.contract_size)
        total += wallet_for_liquidation_at(
            pos, leg.mark * (1.0 + rally), inst.tiers, rules=leg.rules, taker_fee=inst.taker_fee
        )
    return total


def wallet_distance(legs: Sequence[tuple[LegState, float]], balance: float) -> float | None:
    """The uniform rally at which a wallet with margin balance `balance` liquidates (module
    docstring); None without a short, <= 0 when it is due now, inf when beyond 10,000 %."""
    require_finite("balance", balance)
    if not _shorts(legs):
        return None
    if wallet_needed(legs, 0.0) >= balance:
        return 0.0
    if wallet_needed(legs, _FAR) < balance:
        return math.inf
    lo, hi = 0.0, _FAR
    for _ in range(_BISECT_STEPS):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if wallet_needed(legs, mid) < balance else (lo, mid)
    return lo


def opening_margin(legs: Sequence[LegState], sizes: Sequence[float]) -> float:
    """Margin balance (USD) the wallet needs before the legs go from their size to `sizes`:
    every short's initial margin at the mark and its planned leverage, plus the taker fee of
    what is added; 0 when no leg grows (nothing new to margin)."""
    pairs = list(zip(legs, sizes, strict=True))
    if not any(size > leg.size for leg, size in pairs):
        return 0.0
    im = sum(initial_margin(leg, size) for leg, size in pairs if size > 0.0)
    fees = sum(
        fee_of(notional_usd(leg, size - leg.size), leg.instrument.taker_fee)
        for leg, size in pairs
        if size > leg.size
    )
    return im + fees


def keep_cross(
    policy: KeeperPolicy,
    legs: Sequence[LegState],
    balance: float,
    reserve_usd: float,
    now_ms: int,
) -> CrossDecision:
    """Per-leg steps of `keep`, then the wallet's margin step (module docstring).

    `balance`: the cross wallet's margin balance (wallet + unrealised P&L, USD). Each leg goes
    to `keep` with exactly the margin of `target_distance`, so its own margin step has nothing
    to do; a re-sized short is margined by the wallet (the distance is measured after it)."""
    require_non_negative("reserve_usd", reserve_usd)
    neutral = [
        replace(leg, margin=margin_for_distance(leg, leg.size, policy.target_distance))
        for leg in legs
    ]
    decided = keep(policy, neutral, reserve_usd, now_ms)
    sized = [(leg, d.size) for leg, d in zip(legs, decided.legs, strict=True)]
    reserve = reserve_usd  # a grown short is margined by the wallet itself: nothing drawn
    dist = wallet_distance(sized, balance)
    to_open = max(opening_margin(legs, [d.size for d in decided.legs]) - balance, 0.0)
    close = dist is not None and dist < policy.min_distance
    if not close and to_open <= 0.0:
        return CrossDecision(decided, dist, 0.0, dist, 0.0, reserve, "")
    need = max(wallet_needed(sized, policy.target_distance) - balance if close else 0.0, to_open)
    take = min(max(need, 0.0), reserve)
    after = wallet_distance(sized, balance + take)
    missing = need - take if need - take > TINY * max(1.0, need) else 0.0
    unfunded = max(to_open - take, 0.0) if missing > 0.0 else 0.0
    # a wallet that cannot open the growing shorts is said as such: its distance measured
    # with shorts it does not hold yet (0 % on an empty wallet) is no reason to give
    reason = dist if close and to_open <= 0.0 else None
    return CrossDecision(
        decided, dist, take, after, missing, reserve - take,
        _said(reason, take, missing, after, unfunded), unfunded,
    )  # fmt: skip


def _said(
    dist: float | None, take: float, missing: float, after: float | None, unfunded: float
) -> str:
    """The wallet's step in words: why (too close, or margin for the grown shorts), the
    transfer, and what is still missing."""
    if dist is not None:
        message = f"liquidation {dist:.1%} away (all marks up together)"
    else:
        message = "initial margin for the shorts that grow"
    if take > 0.0:
        message += f": {cents_down(take):,.2f} USD moved from the reserve to the futures wallet"
        if dist is None and missing <= 0.0 and after is not None and after < float("inf"):
            message += f" (liquidation then {after:.1%} away)"
    if missing > 0.0:
        message += f"; move {missing:,.2f} USD more to the futures wallet"
        if dist is not None:
            message += (
                f" (distance left {'none' if after is None or after <= 0 else f'{after:.1%}'})"
            )
    if unfunded > 0.0:
        message += "; the shorts that grow wait for it"
    return message
