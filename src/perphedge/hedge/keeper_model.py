"""The keeper's value types: its settings (`KeeperPolicy`), the state it reads per leg
(`LegState`, `LegMemory`) and the decisions it returns (`Action`, `LegDecision`,
`KeeperDecision`). The policy itself is `perphedge.hedge.keeper`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

from perphedge.errors import InputError, require_finite, require_non_negative, require_positive
from perphedge.instruments import Perpetual
from perphedge.margin import Rules

HOUR_MS = 3_600_000
TINY = 1e-12


class Shortfall(StrEnum):
    """What the keeper does when the reserve cannot cover a top-up."""

    SELL_SPOT = "sell_spot"
    DELEVER = "delever"
    ALERT = "alert"


class FundingAction(StrEnum):
    """What the keeper does while the trailing funding cost is above the limit."""

    KEEP = "keep"
    REDUCE = "reduce"
    UNWIND = "unwind"


def _within(name: str, value: float, low: float, high: float, fix: str) -> None:
    require_finite(name, value)
    if not low <= value <= high:
        raise InputError(name, value, fix)


@dataclass(frozen=True)
class KeeperPolicy:
    """The keeper's settings (the `[keeper]` section of a portfolio file); bounds in brackets.

    min_distance            0.30  (0, 1)   top up when the liquidation is closer than this
    target_distance         0.50  (min, 5] ... up to this distance
    drift_band              0.10  [0, 1]   re-size when the short is off target by more
    on_shortfall       sell_spot           sell_spot | delever | alert (reserve too small)
    spot_on_exchange        true           coins sit where the short is (sell_spot needs it)
    reopen                  true           re-open a liquidated short after the cooldown
    reopen_cooldown_hours   24    [0, 720]
    funding_limit_apr       0.30  [0, 10]  trailing funding cost (APR) that is too much
    funding_action          keep           keep | reduce | unwind above the limit
    funding_reduced_ratio   0.5   [0, 1]   fraction of the target kept while reduced
    funding_hysteresis_apr  0.10  [0, limit]  restore below limit - hysteresis
    funding_min_hold_hours  72    [0, 8760] no funding switch sooner after the last one
    funding_window_days     7     (0, 365] the trailing window the cost is measured over
    return_surplus          false          give margin above `surplus_distance` back
    surplus_distance        1.0   (target, 10]
    """

    min_distance: float = 0.30
    target_distance: float = 0.50
    drift_band: float = 0.10
    on_shortfall: Shortfall = Shortfall.SELL_SPOT
    spot_on_exchange: bool = True
    reopen: bool = True
    reopen_cooldown_hours: float = 24.0
    funding_limit_apr: float = 0.30
    funding_action: FundingAction = FundingAction.KEEP
    funding_reduced_ratio: float = 0.5
    funding_hysteresis_apr: float = 0.10
    funding_min_hold_hours: float = 72.0
    funding_window_days: float = 7.0
    return_surplus: bool = False
    surplus_distance: float = 1.0

    def __post_init__(self) -> None:
        _within(
            "min_distance",
            self.min_distance,
            TINY,
            1.0 - TINY,
            "give a fraction in (0, 1), e.g. 0.3",
        )
        _within(
            "target_distance", self.target_distance, self.min_distance + TINY, 5.0,
            f"give a distance above min_distance ({self.min_distance:g}) and at most 5, e.g. 0.5",
        )  # fmt: skip
        _within("drift_band", self.drift_band, 0.0, 1.0, "give a fraction in [0, 1], e.g. 0.1")
        _within(
            "reopen_cooldown_hours",
            self.reopen_cooldown_hours,
            0.0,
            720.0,
            "give hours in [0, 720]",
        )
        _within(
            "funding_limit_apr",
            self.funding_limit_apr,
            0.0,
            10.0,
            "give an APR fraction in [0, 10], e.g. 0.3",
        )
        _within(
            "funding_reduced_ratio",
            self.funding_reduced_ratio,
            0.0,
            1.0,
            "give a fraction in [0, 1]",
        )
        _within(
            "funding_hysteresis_apr", self.funding_hysteresis_apr, 0.0, self.funding_limit_apr,
            f"give an APR fraction between 0 and funding_limit_apr ({self.funding_limit_apr:g})",
        )  # fmt: skip
        _within(
            "funding_min_hold_hours",
            self.funding_min_hold_hours,
            0.0,
            8760.0,
            "give hours in [0, 8760]",
        )
        _within(
            "funding_window_days", self.funding_window_days, TINY, 365.0, "give days in (0, 365]"
        )
        _within(
            "surplus_distance", self.surplus_distance, self.target_distance + TINY, 10.0,
            f"give a distance above target_distance ({self.target_distance:g}) and at most 10",
        )  # fmt: skip
        for name, kind in (("on_shortfall", Shortfall), ("funding_action", FundingAction)):
            value = getattr(self, name)
            if value not in set(kind):
                raise InputError(name, value, f"use one of {', '.join(k.value for k in kind)}")


@dataclass(frozen=True)
class LegMemory:
    """What the keeper carries from one step to the next for a leg (returned by `keep`).

    `reduced`: the funding regime has the leg reduced/unwound since `switched_ms`.
    `liquidated_ms`: when the short was lost (set by the caller that saw it go; cleared on
    re-open).
    """

    reduced: bool = False
    switched_ms: int | None = None
    liquidated_ms: int | None = None


@dataclass(frozen=True)
class LegState:
    """One hedged holding as the keeper sees it at `now_ms`.

    coins_held: the holding (base coins) this leg hedges; coins_on_exchange: of which sit on the
    exchange, sellable. hedge_ratio: ratio x beta, so the target short notional (USD) is
    hedge_ratio x coins_held x spot_price. size: the short (coins linear, contracts inverse; 0
    when none is open). margin: its isolated margin balance in the settle currency.
    funding_cost_apr: trailing funding cost to the short (> 0 pays), see `funding_cost_apr`.
    """

    instrument: Perpetual
    coins_held: float
    spot_price: float
    mark: float
    hedge_ratio: float
    size: float
    margin: float
    leverage: float
    coins_on_exchange: float = 0.0
    funding_cost_apr: float = 0.0
    memory: LegMemory = field(default_factory=LegMemory)
    rules: Rules = Rules.BINANCE

    def __post_init__(self) -> None:
        require_non_negative("coins_held", self.coins_held)
        require_positive("spot_price", self.spot_price)
        require_positive("mark", self.mark)
        require_non_negative("hedge_ratio", self.hedge_ratio)
        require_non_negative("size", self.size)
        require_finite("margin", self.margin)
        require_positive("leverage", self.leverage)
        require_non_negative("coins_on_exchange", self.coins_on_exchange)
        require_finite("funding_cost_apr", self.funding_cost_apr)

    @property
    def symbol(self) -> str:
        return self.instrument.symbol

    @property
    def usd_per_settle(self) -> float:
        """USD value of one unit of the settle currency (the mark for a coin-margined leg)."""
        return self.mark if self.instrument.is_inverse else 1.0


class ActionKind(StrEnum):
    RESIZE = "resize"  # re-size the short to size_after
    TOP_UP = "top_up"  # move margin from the reserve to the leg
    SELL_SPOT = "sell_spot_and_reduce"  # sell spot_sold coins, short to size_after, proceeds in
    DELEVER = "delever"  # reduce the short to size_after, keep the coins
    ALERT = "alert"  # a person must act: amount_usd to move
    REOPEN = "reopen"  # open a lost short again at size_after
    FUNDING_REDUCE = "funding_reduce"  # funding too costly: short to size_after
    FUNDING_RESTORE = "funding_restore"  # funding back under the limit: short to size_after
    RETURN_SURPLUS = "return_surplus"  # margin back to the reserve


@dataclass(frozen=True)
class Action:
    """One thing to do on one leg. Sizes as `LegState.size`; margins in the settle currency.

    margin_move: settle currency into (+) or out of (-) the leg's margin by this action (an
    order that grows a short draws part of it itself: the executor moves margin_after minus the
    margin balance it finds after the order). reserve_usd: taken from (+) or returned to (-)
    the reserve. amount_usd: for an alert, the USD a person must move. message: what it does,
    in words, without the symbol (the subject); `line` puts the symbol first.
    """

    kind: ActionKind
    symbol: str
    size_after: float
    margin_after: float
    margin_move: float = 0.0
    reserve_usd: float = 0.0
    spot_sold: float = 0.0
    amount_usd: float = 0.0
    distance_after: float | None = None
    message: str = ""

    @property
    def line(self) -> str:
        """The action on a line of its own (as `hedge keep` prints it): the symbol, then the
        message, which does not name it (a table shows the symbol in a column of its own)."""
        return f"{self.symbol}: {self.message}"


@dataclass(frozen=True)
class LegDecision:
    """The keeper's answer for one leg: actions in order and the state they lead to."""

    symbol: str
    actions: tuple[Action, ...]
    size: float
    margin: float
    coins_held: float
    distance: float | None
    memory: LegMemory


@dataclass(frozen=True)
class KeeperDecision:
    """The keeper's answer for a portfolio: per-leg decisions and the reserve after them (USD)."""

    legs: tuple[LegDecision, ...]
    reserve_usd: float

    @property
    def actions(self) -> tuple[Action, ...]:
        return tuple(a for leg in self.legs for a in leg.actions)

    @property
    def alerts(self) -> tuple[Action, ...]:
        return tuple(a for a in self.actions if a.kind is ActionKind.ALERT)
