"""Plain-Python reference simulator: the model of `perphedge.backtest.kernels`, written to be read.

No numba, no arrays in the loop: one object per leg, one pass over the bars. It is slow; it
exists to be audited line by line and compared with the engine (the tests require agreement to
1e-9 relative). The model is stated in the `kernels` module docstring. Every money formula
(notional, PnL, fee, maintenance margin, funding cash) is the core's own function from `margin`
and `funding`, which the kernel compiles too: the agreement test ties the kernel to the core.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from perphedge.backtest.engine import bars_per_year, flatten
from perphedge.backtest.kernels import (
    K_COOLDOWN,
    K_FHOLD,
    K_FHYST,
    K_FLIMIT,
    K_FSCALE,
    K_FWINDOW,
    K_MIN,
    K_SHORTFALL,
    K_SURPLUS,
    K_TARGET,
    KEEPER,
)
from perphedge.backtest.policies import N_POLICY_PARAMS
from perphedge.backtest.spec import BacktestSpec, HedgeLeg, MarketArrays
from perphedge.funding import funding_cash
from perphedge.hedge.keeper import funding_switch, trailing_cost_apr
from perphedge.instruments import ContractKind
from perphedge.margin import fee_of, maintenance_of, notional_of, pnl_of, tier_maintenance


@dataclass
class Leg:
    """One leg's constants and state. `pos` = short size (coins linear, contracts inverse)."""

    spec: HedgeLeg
    pos: float = 0.0
    wallet: float = 0.0  # isolated margin, settle currency
    held: float = 0.0  # coins held; inverse legs move margin coins out of and back into it
    mark_prev: float = 0.0
    spot_prev: float = 0.0
    covered: float = 0.0  # spot units the hedge covers (ratio * qty) since the last re-size
    var: float = 0.0  # VolTriggered: EWMA of squared returns
    neg_run: int = 0  # FundingAware: consecutive negative rates
    up_run: int = 0  # FundingAware: consecutive rates above the hysteresis
    flag: bool = False  # FundingAware: reduced; VolTriggered: high volatility
    last_switch: float = -math.inf
    alive: bool = True
    rate: float | None = None  # funding rate settling at this bar, if any
    funding: float = 0.0
    fees: float = 0.0
    hedge_pnl: float = 0.0
    covered_pnl: float = 0.0  # P&L of the spot units the hedge covers; basis = hedge + this
    liq_loss: float = 0.0
    top_up: float = 0.0
    trades: int = 0
    hedged_bars: int = 0
    liq_bar: int = -1
    # the keeper's books (kernels: A_SOLD ... A_ALERTS, S_POSTED)
    sold: float = 0.0
    proceeds: float = 0.0
    reopens: int = 0
    liquidations: int = 0
    lost: float = 0.0
    returned: float = 0.0
    alerts: int = 0
    posted: float = 0.0  # margin at risk: after the last re-size or return, plus top-ups, USD
    spot_fees: float = 0.0
    # the keeper's funding regime: trailing cost (APR), reduced or not, bar of the last switch
    funding_cost: float = 0.0
    reduced: bool = False
    last_funding_switch: float = -math.inf
    funding_switches: int = 0

    @property
    def inverse(self) -> bool:
        return self.spec.kind is ContractKind.INVERSE

    def notional(self, mark: float) -> float:
        """Settle-currency notional: USD (linear) or coin (inverse)."""
        return notional_of(self.pos, mark, self.spec.contract_size, self.inverse)

    def maintenance(self, mark: float) -> float:
        """N * MMR - cum of the bracket containing N (`margin.tier_maintenance`)."""
        return tier_maintenance(self.spec.tiers, self.notional(mark))

    def variation(self, a: float, b: float) -> float:
        """Variation margin of the short as the mark moves a -> b (settle currency)."""
        return pnl_of(-self.pos, a, b, self.spec.contract_size, self.inverse)

    def funding_cash(self, rate: float, mark: float) -> float:
        """Funding cash of the short at `mark` (settle currency): the core's sign rule."""
        return funding_cash(
            -self.pos, rate, notional_of(1.0, mark, self.spec.contract_size, self.inverse)
        )

    def margin_at_distance(self, pos: float, mark: float, dist: float) -> float:
        """Margin balance putting a short of `pos` `dist` from liquidation at `mark` (entry =
        mark): MM at P = mark (1 + dist), bracket of the notional there, minus the PnL to P."""
        cs, price = self.spec.contract_size, mark * (1.0 + dist)
        n = notional_of(pos, price, cs, self.inverse)
        return tier_maintenance(self.spec.tiers, n) - pnl_of(-pos, mark, price, cs, self.inverse)

    def touch_price(self, wallet: float, a: float, hi: float) -> tuple[float, float] | None:
        """(P, MM at P): the first mark in [a, hi] at which the margin (`wallet` at mark a, plus
        the variation margin from a) is at or below maintenance, bracket by bracket; or None."""
        tiers = self.spec.tiers.tiers
        k = tiers.index(self.spec.tiers.tier_for(self.notional(a)))
        qc, lo = self.pos * self.spec.contract_size, a
        while True:
            tier = tiers[k]
            if self.inverse:  # the coin notional falls as the mark rises
                edge = qc / tier.floor if k > 0 else math.inf
            else:
                edge = tier.cap / self.pos if k < len(tiers) - 1 else math.inf
            up = min(hi, edge)
            for p in (lo, up):
                if wallet + self.variation(a, p) <= maintenance_of(
                    self.notional(p), tier.mmr, tier.cum
                ):
                    if p == up and up != lo:  # margin and MM linear in p (1/p inverse): solve
                        if self.inverse:
                            # a zero denominator (margins underflowing) gives +inf, as in the
                            # kernel's numpy error model: the touch is at the bracket's end
                            den = qc / a - wallet - tier.cum
                            p = qc * (1.0 - tier.mmr) / den if den != 0.0 else math.inf
                        else:
                            p = (wallet + self.pos * a + tier.cum) / (self.pos * (1 + tier.mmr))
                        p = min(max(p, lo), up)
                    return p, maintenance_of(self.notional(p), tier.mmr, tier.cum)
            if up >= hi:
                return None
            lo, k = edge, k - 1 if self.inverse else k + 1


class Simulator:
    """Runs `spec` over `data`; read `run` top to bottom."""

    def __init__(self, spec: BacktestSpec, data: MarketArrays) -> None:
        flatten(spec, data)  # the same validation as the engine
        self.spec, self.data = spec, data
        params = spec.policy.params()
        self.p = params + (0.0,) * (N_POLICY_PARAMS - len(params))
        self.settled: list[tuple[int, int, float]] = []  # (bar, column, rate), oldest first
        self.cash = self.min_cash = float(spec.initial_cash_usd)
        self.bpy = bars_per_year(data.times_ms)
        self.legs = [Leg(leg, held=leg.qty_base) for leg in spec.legs]

    def run(self) -> dict[str, object]:
        d = self.data
        bars, cols = d.funding_bar.tolist(), d.funding_col.tolist()
        rates, e = d.rate_per_interval.tolist(), 0
        equity, unhedged, funding_cum, total_funding = [], [], [], 0.0
        for leg in self.legs:
            leg.mark_prev = float(d.mark[0, leg.spec.hedge_col])
            leg.spot_prev = float(d.spot[0, leg.spec.spot_col])
        for t in range(d.n_bars):
            while e < len(bars) and bars[e] == t:
                self.observe_funding(cols[e], rates[e])
                self.settled.append((t, cols[e], rates[e]))
                e += 1
            held, base = 0.0, 0.0
            for leg in self.legs:
                s = float(d.spot[t, leg.spec.spot_col])
                m = float(d.mark[t, leg.spec.hedge_col])
                keeper = self.spec.policy.code == KEEPER
                if (leg.inverse or keeper) and t > 0:  # coins moved out of the holding, revalued
                    leg.hedge_pnl += (leg.held - leg.spec.qty_base) * (s - leg.spot_prev)
                if leg.pos > 0 and d.mark_high is not None:
                    high = max(float(d.mark_high[t, leg.spec.hedge_col]), leg.mark_prev, m)
                    total_funding += self.carry_through_high(leg, t, s, m, high)
                elif leg.pos > 0:
                    total_funding += self.carry(leg, t, s, m)
                leg.rate = None
                px = float(d.perp[t, leg.spec.hedge_col])
                scale, switched = self.funding_regime(leg, t) if keeper else (1.0, False)
                if keeper and not leg.alive:
                    self.reopen_due(leg, t)
                if leg.alive:
                    self.policy_step(leg, t, s, m, px, scale, switched)
                if keeper and leg.pos > 0:
                    self.keep_margin(leg, t, s, m, px, self.p[0] * scale)
                leg.mark_prev, leg.spot_prev = m, s
                base += leg.spec.qty_base * s
                held += leg.held * s + leg.wallet * (m if leg.inverse else 1.0)
                leg.hedged_bars += leg.pos > 0
            self.min_cash = min(self.min_cash, self.cash)
            equity.append(self.cash + held)
            unhedged.append(base)  # the holdings alone
            funding_cum.append(total_funding)
        return {"equity": equity, "unhedged": unhedged, "funding_cum": funding_cum}

    def observe_funding(self, col: int, rate: float) -> None:
        for leg in self.legs:
            if leg.spec.hedge_col == col:
                leg.rate = rate
                negative, high = rate < 0, rate > self.p[3]
                leg.neg_run = leg.neg_run + 1 if negative else 0
                leg.up_run = leg.up_run + 1 if high else 0

    def funding_regime(self, leg: Leg, t: int) -> tuple[float, bool]:
        """Keeper, step 1: the live rule (`hedge.keeper.funding_switch`) on the trailing cost of
        the leg's perpetual over the settlements of bars (t - window, t]; returns (the fraction
        of the target to hold, whether it switched now)."""
        p = self.p
        if p[K_FSCALE] < 0:
            return 1.0, False
        total, n = 0.0, 0.0
        for bar, col, rate in self.settled:  # summed oldest first, as the kernel does
            if col == leg.spec.hedge_col and bar > t - p[K_FWINDOW]:
                total += rate
                n += 1.0
        leg.funding_cost = trailing_cost_apr(total, n, leg.spec.funding_interval_hours)
        switched = funding_switch(
            leg.reduced, t - leg.last_funding_switch, leg.funding_cost, p[K_FLIMIT], p[K_FHYST],
            p[K_FHOLD],
        )  # fmt: skip
        if switched:
            leg.reduced, leg.last_funding_switch = not leg.reduced, t
            leg.funding_switches += 1
        return (p[K_FSCALE] if leg.reduced else 1.0), switched

    def carry(self, leg: Leg, t: int, s: float, m: float) -> float:
        """Variation margin, funding, then the liquidation check. Returns funding in USD."""
        mp, conv = leg.mark_prev, (m if leg.inverse else 1.0)
        vm = leg.variation(mp, m)  # inverse: plus the margin coins revalued
        leg.hedge_pnl += vm * m + leg.wallet * (m - mp) if leg.inverse else vm
        leg.wallet += vm
        leg.covered_pnl += leg.covered * (s - leg.spot_prev)
        self.check_liquidation(leg, t, m, conv)
        return self.settle_funding(leg, t, m, conv)

    def settle_funding(self, leg: Leg, t: int, m: float, conv: float) -> float:
        """Funding settling at the close, for a short still open (one liquidated in the bar
        earns none), then the check again. Returns funding in USD."""
        if leg.rate is None or not leg.alive:
            return 0.0
        cash = leg.funding_cash(leg.rate, m)
        leg.wallet += cash
        leg.funding += cash * conv
        self.check_liquidation(leg, t, m, conv)
        return cash * conv

    def carry_through_high(self, leg: Leg, t: int, s: float, m: float, high: float) -> float:
        """With the bar's high: the mark's path from the previous close up through `high`
        (top-up or liquidation where it first touches the liquidation price), the variation
        margin to the close and the check there, then the funding. Returns funding in USD."""
        mp, conv, wallet_open = leg.mark_prev, (m if leg.inverse else 1.0), leg.wallet
        leg.covered_pnl += leg.covered * (s - leg.spot_prev)
        at, vm, touches = mp, 0.0, 0  # the mark reached so far, variation margin so far
        while leg.alive and (touch := leg.touch_price(leg.wallet, at, high)) is not None:
            px, mm = touch
            if touches > 0 and px <= at and self.cash > 0:  # float noise after a full top-up
                break  # (with the cash spent, a partial top-up left it at MM: liquidated here)
            touches += 1
            vm += leg.variation(at, px)
            leg.wallet += leg.variation(at, px)
            self.top_up_or_liquidate(leg, t, px, mm, conv)
            at = px
        if leg.alive:
            vm += leg.variation(at, m)
            leg.wallet += leg.variation(at, m)
        leg.hedge_pnl += vm * m + wallet_open * (m - mp) if leg.inverse else vm
        if leg.alive:
            self.check_liquidation(leg, t, m, conv)
        return self.settle_funding(leg, t, m, conv)

    def check_liquidation(self, leg: Leg, t: int, m: float, conv: float) -> None:
        mm = leg.maintenance(m)
        if leg.wallet <= mm:
            self.top_up_or_liquidate(leg, t, m, mm, conv)

    def top_up_or_liquidate(self, leg: Leg, t: int, px: float, mm: float, conv: float) -> None:
        """At mark `px` with maintenance `mm`: top up, and liquidate if still at or below MM."""
        if self.spec.auto_top_up and self.cash > 0:
            need = (leg.notional(px) / self.spec.leverage - leg.wallet) * conv
            moved = min(self.cash, need)
            self.cash -= moved
            leg.wallet += moved / conv
            leg.top_up += moved
            leg.posted += moved
            if leg.wallet > mm:
                return
        fee = min(max(leg.wallet, 0.0), fee_of(leg.notional(px), self.spec.costs.liquidation_fee))
        leg.fees += fee * conv
        leg.liq_loss += (leg.wallet - fee) * conv
        leg.liq_bar = t
        leg.liquidations += 1
        leg.lost += leg.posted
        leg.posted = 0.0
        leg.wallet, leg.pos, leg.alive = 0.0, 0.0, False

    def target_ratio(
        self, leg: Leg, t: int, s: float, scale: float, switched: bool
    ) -> tuple[float, bool]:
        """The policy: (target ratio, re-size regardless of the band)."""
        code, p = self.spec.policy.code, self.p
        if code in (0, 1):  # StaticRatio, DriftBand
            return p[0], t == 0
        if code == KEEPER:  # opens a missing short at once, re-sizes at a funding switch
            return p[0] * scale, t == 0 or switched or leg.pos == 0
        if code == 2:  # Schedule
            return p[0], t % int(p[2]) == 0
        if code == 3:  # FundingAware
            run = leg.up_run if leg.flag else leg.neg_run
            switch = t - leg.last_switch >= p[4] and run >= p[2]
            if switch:
                leg.flag, leg.last_switch = not leg.flag, t
            return (p[5] if leg.flag else p[0]), switch or t == 0
        if t > 0:  # VolTriggered
            r = s / leg.spot_prev - 1.0
            alpha = 2.0 / (p[2] + 1.0)
            leg.var = alpha * r * r + (1.0 - alpha) * leg.var
        high = t < p[2] or leg.var * self.bpy > p[3] * p[3]
        switch = high != leg.flag
        leg.flag = high
        return (p[0] if high else p[4]), switch or t == 0

    def policy_step(
        self, leg: Leg, t: int, s: float, m: float, px: float, scale: float, switched: bool
    ) -> None:
        ratio, force = self.target_ratio(leg, t, s, scale, switched)
        coins = leg.held + leg.wallet if leg.inverse else leg.held
        target_usd = max(ratio * leg.spec.beta * coins * s, 0.0)
        current_usd = leg.pos * leg.spec.contract_size if leg.inverse else leg.pos * m
        band = self.p[1]
        if current_usd == target_usd:
            return
        if force or (band > 0 and abs(current_usd - target_usd) > band * target_usd):
            self.resize(leg, s, m, px, target_usd, ratio)

    def resize(
        self, leg: Leg, s: float, m: float, px: float, target_usd: float, ratio: float
    ) -> None:
        """Re-size the short to `target_usd`; the keeper keeps the margin (plus the added
        notional / leverage when the short grows), the others re-set it to N / L (and a closed
        short returns its margin under every policy)."""
        costs, cs = self.spec.costs, leg.spec.contract_size
        new_pos = target_usd / cs if leg.inverse else target_usd / m
        dq = new_pos - leg.pos  # > 0: sell more
        fill = px * (1.0 - costs.slippage) if dq > 0 else px * (1.0 + costs.slippage)
        conv = m if leg.inverse else 1.0
        gain = pnl_of(-dq, fill, m, cs, leg.inverse)  # the traded short, from the fill to the mark
        gain0 = pnl_of(-dq, px, m, cs, leg.inverse)  # the same without slippage
        fee = fee_of(notional_of(abs(dq), fill, cs, leg.inverse), costs.trade_fee)
        wallet = leg.wallet + gain - fee
        leg.hedge_pnl += gain0 * conv
        leg.fees += (fee + gain0 - gain) * conv
        if self.spec.policy.code == KEEPER and leg.pos > 0 and new_pos > 0:
            margin = wallet + max(notional_of(dq, m, cs, leg.inverse), 0.0) / self.spec.leverage
        else:
            margin = notional_of(new_pos, m, cs, leg.inverse) / self.spec.leverage
        leg.pos = new_pos
        if leg.inverse:  # margin coins come from the holding
            leg.held -= margin - wallet
            leg.hedge_pnl += (margin - wallet) * (m - s)
        else:
            self.cash -= margin - wallet
        leg.posted = margin * conv if new_pos > 0 else 0.0  # at risk: the whole margin
        leg.wallet = margin
        leg.covered = ratio * (leg.spec.qty_base if leg.inverse else leg.held)
        leg.trades += 1

    def reopen_due(self, leg: Leg, t: int) -> None:
        """Keeper: a liquidated leg comes back once the cooldown has passed (-1: never)."""
        cooldown = self.p[K_COOLDOWN]
        if cooldown >= 0 and t - leg.liq_bar >= cooldown:
            leg.alive = True
            leg.reopens += 1

    def keep_margin(self, leg: Leg, t: int, s: float, m: float, px: float, ratio: float) -> None:
        """The keeper's margin step at the close (kernels.keep_margin); `ratio`: the target
        ratio in force."""
        p, conv = self.p, (m if leg.inverse else 1.0)
        if leg.wallet < leg.margin_at_distance(leg.pos, m, p[K_MIN]):
            need = leg.margin_at_distance(leg.pos, m, p[K_TARGET]) - leg.wallet
            take = min(need, max(self.cash, 0.0) / conv)
            if take > 0:
                self.cash -= take * conv
                leg.wallet += take
                leg.top_up += take * conv
                leg.posted += take * conv
            if need - take > 1e-9 * max(1.0, need):
                self.shortfall(leg, t, s, m, px, ratio)
        elif p[K_SURPLUS] > 0 and leg.wallet > leg.margin_at_distance(leg.pos, m, p[K_SURPLUS]):
            keep = max(
                leg.margin_at_distance(leg.pos, m, p[K_TARGET]),
                notional_of(leg.pos, m, leg.spec.contract_size, leg.inverse) / self.spec.leverage,
            )
            back = leg.wallet - keep
            if back > 0:
                leg.wallet = keep
                self.cash += back * conv
                leg.returned += back * conv
                leg.posted = keep * conv  # the margin left in is at risk from now on

    def shortfall(self, leg: Leg, t: int, s: float, m: float, px: float, ratio: float) -> None:
        """Cash is spent: sell spot (the short reduced in step; a linear leg's coins pay the
        spot fee, an inverse leg's coin moves as it is), de-lever, or count an alert."""
        p, conv, d = self.p, (m if leg.inverse else 1.0), self.p[K_TARGET]
        pos, coins, cs = leg.pos, leg.held, leg.spec.contract_size
        mode = int(p[K_SHORTFALL])
        if mode == 1 and coins > 0:
            spot_fee = 0.0 if leg.inverse else self.spec.costs.spot_taker_fee
            net = s * (1.0 if leg.inverse else 1.0 - spot_fee) / conv  # settle per coin sold
            per_coin, lo, hi = pos / coins, 0.0, coins
            if leg.wallet + hi * net - leg.margin_at_distance(0.0, m, d) >= 0:
                for _ in range(100):
                    mid = 0.5 * (lo + hi)
                    enough = leg.wallet + mid * net >= leg.margin_at_distance(
                        per_coin * (coins - mid), m, d
                    )
                    lo, hi = (lo, mid) if enough else (mid, hi)
            fee = 0.0 if leg.inverse else fee_of(hi * s, spot_fee)
            leg.held = coins - hi
            leg.wallet += hi * net
            leg.sold += hi
            leg.proceeds += hi * s
            leg.fees += fee
            leg.spot_fees += fee
            new_pos = per_coin * (coins - hi)
            self.resize(leg, s, m, px, notional_of(new_pos, m, cs, leg.inverse) * conv, ratio)
        elif mode == 2:
            lo, hi = 0.0, pos
            for _ in range(100):
                mid = 0.5 * (lo + hi)
                enough = leg.margin_at_distance(mid, m, d) <= leg.wallet
                lo, hi = (mid, hi) if enough else (lo, mid)
            self.resize(leg, s, m, px, notional_of(lo, m, cs, leg.inverse) * conv, ratio)
        if leg.pos > 0 and leg.wallet < leg.margin_at_distance(leg.pos, m, p[K_MIN]):
            leg.alerts += 1


def simulate_reference(spec: BacktestSpec, data: MarketArrays) -> dict[str, np.ndarray]:
    """Run the reference; curves and per-leg totals as arrays keyed like BacktestResult fields."""
    sim = Simulator(spec, data)
    curves = sim.run()
    legs = sim.legs
    out = {name: np.asarray(values, dtype=np.float64) for name, values in curves.items()}
    books: tuple[str, ...] = ("funding", "fees", "hedge_pnl", "liq_loss", "top_up", "trades")
    books += ("sold", "proceeds")
    books += ("reopens", "liquidations", "lost", "returned", "alerts")
    books += ("spot_fees", "funding_switches")
    for field in books:
        out[field] = np.array([getattr(leg, field) for leg in legs], dtype=np.float64)
    out["basis"] = np.array([leg.hedge_pnl + leg.covered_pnl for leg in legs])
    out["hedged_bars"] = np.array([leg.hedged_bars for leg in legs], dtype=np.float64)
    out["liq_bar"] = np.array([leg.liq_bar for leg in legs], dtype=np.float64)
    out["cash"] = np.array([sim.cash, sim.min_cash])
    return out
