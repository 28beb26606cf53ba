"""The frozen result of one backtest run, with derived totals and metrics.

All amounts are USD (coin amounts of inverse legs are converted at the mark of the bar they
occur). Per-bar curves have T entries; per-leg samples are taken every `stride` bars
(`sample_bars` holds the bar indices). Per-leg totals have one entry per leg of the spec.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
import numpy.typing as npt

from perphedge import metrics
from perphedge.backtest.spec import BacktestSpec

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


@dataclass(frozen=True, eq=False)
class BacktestResult:
    """Curves and totals of one run (see the module docstring for units and shapes).

    equity_usd: hedged portfolio (cash + holdings + hedge margin balances) at each bar's close.
    equity_unhedged_usd: the same holdings alone, with no hedge and without the starting cash
      (`spec.initial_cash_usd`, reported separately), so it does not move with leverage.
    funding_bars, funding_at_usd: the bars with funding events and the funding received by all
      hedges up to and including each (negative: paid); `funding_cum_usd` spreads it per bar.
    margin_ratio: maintenance margin / margin balance per sampled bar and leg (liquidation at
      >= 1; inf when the balance is <= 0; NaN when the leg has no open hedge).
    hedge_notional_usd: notional of each leg's short at the sampled bars (0 when none).
    leg_*: per-leg totals. leg_fees_usd: exchange fees + slippage + liquidation fees.
      leg_hedge_pnl_usd: the short's price P&L (variation margin, fills against the mark,
      revaluation of coin margin). Exactly: equity - initial cash - unhedged = sum(hedge P&L + funding - fees
      - liquidation loss) at every bar's close. leg_basis_usd is the hedge's price P&L plus the P&L of the spot
      value it covers (target ratio x qty coins): what the hedge failed to offset.
    leg_liquidation_bar: bar index of the leg's (last) liquidation, -1 if never liquidated.
    Keeper runs also fill: leg_liquidations (count; a re-opened leg can be lost again),
      leg_margin_lost_usd (the margin posted into a short that a liquidation took, never 0 for a
      liquidated leg), leg_spot_sold (coins sold to fund margin) and leg_spot_proceeds_usd,
      leg_reopens, leg_margin_returned_usd (surplus back to cash), leg_alert_bars (closes at
      which the keeper could not restore target_distance: the live keeper alerts),
      leg_spot_fees_usd (spot fees of the coins sold, also in leg_fees_usd) and
      leg_funding_switches (funding regime switches: reduce/unwind and restore).
    """

    spec: BacktestSpec
    times_ms: IntArray
    equity_usd: FloatArray
    equity_unhedged_usd: FloatArray
    funding_bars: IntArray
    funding_at_usd: FloatArray
    sample_bars: IntArray
    margin_ratio: FloatArray
    hedge_notional_usd: FloatArray
    leg_funding_usd: FloatArray
    leg_fees_usd: FloatArray
    leg_hedge_pnl_usd: FloatArray
    leg_basis_usd: FloatArray
    leg_liquidation_loss_usd: FloatArray
    leg_top_up_usd: FloatArray
    leg_trades: IntArray
    leg_hedged_bars: IntArray
    leg_liquidation_bar: IntArray
    min_cash_usd: float
    final_cash_usd: float
    leg_liquidations: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    leg_margin_lost_usd: FloatArray = field(default_factory=lambda: np.zeros(0))
    leg_spot_sold: FloatArray = field(default_factory=lambda: np.zeros(0))
    leg_spot_proceeds_usd: FloatArray = field(default_factory=lambda: np.zeros(0))
    leg_reopens: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    leg_margin_returned_usd: FloatArray = field(default_factory=lambda: np.zeros(0))
    leg_alert_bars: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    leg_spot_fees_usd: FloatArray = field(default_factory=lambda: np.zeros(0))
    leg_funding_switches: IntArray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))

    @property
    def n_bars(self) -> int:
        return int(self.times_ms.size)

    @cached_property
    def funding_cum_usd(self) -> FloatArray:
        """Funding received by all hedges up to each bar's close (T values; negative: paid)."""
        upto = np.searchsorted(self.funding_bars, np.arange(self.n_bars), side="right")
        cum: FloatArray = np.concatenate(([0.0], self.funding_at_usd))[upto]
        return cum

    @property
    def funding_pnl(self) -> float:
        """Funding received by the hedges over the run, USD (negative: paid)."""
        return float(self.leg_funding_usd.sum())

    @property
    def fees(self) -> float:
        """Trading and liquidation fees paid, USD (positive number)."""
        return float(self.leg_fees_usd.sum())

    @property
    def hedge_pnl(self) -> float:
        """Price P&L of the shorts, USD (offsets the holdings' moves)."""
        return float(self.leg_hedge_pnl_usd.sum())

    @property
    def basis_pnl(self) -> float:
        return float(self.leg_basis_usd.sum())

    @property
    def liquidation_loss(self) -> float:
        """Margin forfeited in liquidations beyond the liquidation fee, USD."""
        return float(self.leg_liquidation_loss_usd.sum())

    @property
    def liquidations(self) -> int:
        if self.leg_liquidations.size:
            return int(self.leg_liquidations.sum())
        return int((self.leg_liquidation_bar >= 0).sum())

    @property
    def margin_lost(self) -> float:
        """Margin posted into shorts that liquidations took, USD."""
        return float(self.leg_margin_lost_usd.sum())

    @property
    def spot_sold_usd(self) -> float:
        return float(self.leg_spot_proceeds_usd.sum())

    @property
    def spot_fees(self) -> float:
        """Spot fees of the coins the keeper sold, USD (part of `fees`)."""
        return float(self.leg_spot_fees_usd.sum())

    @property
    def funding_switches(self) -> int:
        return int(self.leg_funding_switches.sum())

    @property
    def reopens(self) -> int:
        return int(self.leg_reopens.sum())

    @property
    def days_unhedged(self) -> float:
        return days_unhedged(self.times_ms, float(self.leg_hedged_bars.sum()), len(self.spec.legs))

    @property
    def liquidated_legs(self) -> tuple[int, ...]:
        return tuple(int(i) for i in np.flatnonzero(self.leg_liquidation_bar >= 0))

    @property
    def liquidation_times_ms(self) -> tuple[int, ...]:
        bars = self.leg_liquidation_bar[self.leg_liquidation_bar >= 0]
        return tuple(int(self.times_ms[b]) for b in np.sort(bars))

    @property
    def trades(self) -> int:
        return int(self.leg_trades.sum())

    @property
    def share_hedged(self) -> float:
        """Fraction of leg-bars with an open hedge, in [0, 1]."""
        return float(self.leg_hedged_bars.sum()) / (self.n_bars * len(self.spec.legs))

    @property
    def top_ups(self) -> float:
        return float(self.leg_top_up_usd.sum())

    def drawdown(self) -> FloatArray:
        """Hedged equity / running peak - 1 at each bar (0 at new highs)."""
        return metrics.drawdown_curve(self.equity_usd)

    def summary(self) -> dict[str, float | int]:
        """The headline figures of the run (the keys of `perphedge backtest --json`)."""
        eq, base = self.equity_usd, self.equity_unhedged_usd
        curves = Curves(
            eq, base, self.times_ms, metrics.max_drawdown(eq), metrics.max_drawdown(base)
        )
        totals = {
            "funding_pnl": self.funding_pnl,
            "fees": self.fees,
            "basis_pnl": self.basis_pnl,
            "hedge_pnl": self.hedge_pnl,
            "liquidation_loss": self.liquidation_loss,
            "liquidations": self.liquidations,
            "top_ups": self.top_ups,
            "margin_lost": self.margin_lost,
            "spot_sold_usd": self.spot_sold_usd,
            "spot_fees": self.spot_fees,
            "reopens": self.reopens,
            "funding_switches": self.funding_switches,
            "days_unhedged": self.days_unhedged,
            "share_hedged": self.share_hedged,
            "trades": self.trades,
            "min_cash": self.min_cash_usd,
        }
        return summarize(curves, totals)


def days_unhedged(times_ms: IntArray, hedged_bars: float, n_legs: int) -> float:
    """Days without an open short, averaged over legs: (bars x legs - hedged leg-bars) x the
    mean bar length."""
    n_bars = int(times_ms.size)
    if n_bars < 2 or n_legs == 0:
        return 0.0
    bar_days = float(times_ms[-1] - times_ms[0]) / (n_bars - 1) / 86_400_000
    return (n_bars * n_legs - hedged_bars) * bar_days / n_legs


@dataclass(frozen=True, eq=False)
class Curves:
    """Hedged and unhedged equity (USD) at least at the bars the period statistics read
    (`metrics.statistics_bars`; every bar will do), their times, and both maximum drawdowns
    (which need every bar, so they come computed)."""

    equity_usd: FloatArray
    unhedged_usd: FloatArray
    times_ms: IntArray
    max_drawdown: float
    max_drawdown_unhedged: float


def summarize(c: Curves, totals: dict[str, float | int]) -> dict[str, float | int]:
    """The headline figures of a run from its curves and per-run totals (funding_pnl, fees,
    basis_pnl, hedge_pnl, liquidation_loss, liquidations, top_ups, share_hedged, trades,
    min_cash): one place for the single run and the batched sweep."""
    eq, base, t = c.equity_usd, c.unhedged_usd, c.times_ms
    var, cvar = metrics.var_cvar(eq, t, level=0.95)
    return {
        "total_return": metrics.total_return(eq),
        "total_return_unhedged": metrics.total_return(base),
        "volatility": metrics.annualised_volatility(eq, t),
        "volatility_unhedged": metrics.annualised_volatility(base, t),
        "max_drawdown": c.max_drawdown,
        "max_drawdown_unhedged": c.max_drawdown_unhedged,
        "worst_month": metrics.worst_month(eq, t),
        "var_95": var,
        "cvar_95": cvar,
        "hedge_effectiveness": metrics.hedge_effectiveness(eq, base, t),
        "upside_given_up": metrics.upside_given_up(eq, base, t),
        **totals,
        "final_equity": float(eq[-1]),
    }
