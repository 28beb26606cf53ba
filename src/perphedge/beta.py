"""Minimum-variance hedge ratio (beta) and hedge effectiveness: pure functions over return arrays.

For an asset with returns a and a hedge instrument with returns h, hedged P&L per unit of asset
notional is a - beta * h. Minimising its variance gives the OLS slope of a on h
(Johnson 1960; Ederington 1979, J. Finance 34(1):157-170):

    beta* = Cov(a, h) / Var(h) = rho * sd(a) / sd(h)
    HE    = 1 - Var(a - beta* h) / Var(a) = rho^2          (hedge effectiveness = regression R^2)

`beta` is hedge notional per unit of asset notional (short 0.8 USD of BTC perp per 1 USD of the
asset). Moments are weighted: equal weights, or EWMA weights w_i ~ lambda^(n-1-i) that favour recent
returns (lambda = 0.5 ** (1 / half-life in observations)). The identity HE = rho^2 holds for any
weights.

Confidence intervals, two methods:
* "block-bootstrap" (default): circular moving-block bootstrap of the (a, h) pairs, keeping each
  pair's weight; percentile interval of beta and HE. Needs a seeded `numpy.random.Generator` passed
  in, so results are reproducible. Block length defaults to round(n ** (1/3)).
* "fisher-z": z = atanh(rho) +- q / sqrt(n_eff - 3) with n_eff = (sum w)^2 / sum w^2 (Kish); the
  rho interval maps to HE by squaring (0 when it straddles 0) and to beta as rho * sd(a) / sd(h),
  holding the volatility ratio fixed (an approximation).

Units: returns are simple returns per return interval (0.01 = +1 %); timestamps int64 epoch ms.
NaN policy: NaN or infinite returns or prices are refused with InputError naming the field.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum
from statistics import NormalDist

import numpy as np
import numpy.typing as npt

from perphedge.errors import InputError, require_positive

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

MS_PER_DAY = 86_400_000
MIN_OBSERVATIONS = 5


class CiMethod(StrEnum):
    """How the confidence intervals are computed (see module docstring)."""

    BOOTSTRAP = "block-bootstrap"
    FISHER_Z = "fisher-z"


@dataclass(frozen=True)
class HedgeRatioEstimate:
    """Minimum-variance hedge ratio of an asset against a hedge instrument, with intervals."""

    beta: float  # hedge notional per unit of asset notional
    hedge_effectiveness: float  # 1 - Var(hedged) / Var(unhedged) = rho^2
    rho: float  # (weighted) correlation of the two return series
    n_obs: int  # return observations used
    effective_n: float  # Kish effective sample size of the weights (= n_obs when unweighted)
    asset_sd: float  # (weighted) standard deviation of asset returns per interval
    hedge_sd: float
    beta_ci: tuple[float, float]
    he_ci: tuple[float, float]
    ci_level: float
    ci_method: CiMethod
    ewma_halflife: float | None  # in observations; None = equal weights


@dataclass(frozen=True, eq=False)
class AlignedReturns:
    """Non-overlapping k-period returns of two price series on their common timestamps."""

    asset: FloatArray
    hedge: FloatArray
    end_ts_ms: IntArray  # timestamp of the close that ends each return
    start_ms: int  # first close used
    interval_days: int


def ewma_weights(n: int, halflife: float | None = None, lam: float | None = None) -> FloatArray:
    """Weights summing to 1, the newest (last) observation heaviest; equal when both are None.

    `halflife` in observations (weight halves every `halflife` steps back) or decay `lam` in (0, 1].
    """
    if halflife is not None and lam is not None:
        raise InputError("ewma", (halflife, lam), "give a half-life or a lambda, not both")
    if halflife is not None:
        lam = 0.5 ** (1.0 / require_positive("ewma_halflife", halflife))
    if lam is not None and not 0.0 < lam <= 1.0:
        raise InputError("ewma_lambda", lam, "a decay factor lies in (0, 1], e.g. 0.94")
    raw = np.ones(n) if lam is None else lam ** np.arange(n - 1, -1, -1, dtype=np.float64)
    weights: FloatArray = raw / raw.sum()
    return weights


def _moments(
    a: FloatArray, h: FloatArray, w: FloatArray
) -> tuple[FloatArray, FloatArray, FloatArray]:
    """Weighted Var(a), Var(h), Cov(a, h) along the last axis; weights sum to 1 on that axis."""
    da = a - np.sum(w * a, axis=-1, keepdims=True)
    dh = h - np.sum(w * h, axis=-1, keepdims=True)
    return np.sum(w * da * da, axis=-1), np.sum(w * dh * dh, axis=-1), np.sum(w * da * dh, axis=-1)


def _beta_he(a: FloatArray, h: FloatArray, w: FloatArray) -> tuple[FloatArray, FloatArray]:
    var_a, var_h, cov = _moments(a, h, w)
    with np.errstate(divide="ignore", invalid="ignore"):
        return cov / var_h, cov * cov / (var_a * var_h)


def _check_returns(asset: FloatArray, hedge: FloatArray) -> None:
    if asset.ndim != 1 or asset.shape != hedge.shape:
        raise InputError("returns", (asset.shape, hedge.shape), "give two equal-length 1-D arrays")
    if asset.size < MIN_OBSERVATIONS:
        raise InputError(
            "returns", asset.size, f"need at least {MIN_OBSERVATIONS} returns; widen the window"
        )
    for name, x in (("asset_returns", asset), ("hedge_returns", hedge)):
        if not np.all(np.isfinite(x)):
            raise InputError(name, "NaN", "returns must be finite numbers")
        if float(np.ptp(x)) == 0.0:
            raise InputError(name, "constant", "returns do not vary; no hedge ratio exists")


def _bootstrap_ci(
    a: FloatArray,
    h: FloatArray,
    w: FloatArray,
    level: float,
    rng: np.random.Generator,
    n_boot: int,
    block_len: int,
) -> tuple[tuple[float, float], tuple[float, float]]:
    n = a.size
    n_blocks = -(-n // block_len)
    starts = rng.integers(0, n, size=(n_boot, n_blocks, 1))
    idx = ((starts + np.arange(block_len)) % n).reshape(n_boot, -1)[:, :n]
    wb = w[idx] / np.sum(w[idx], axis=1, keepdims=True)
    betas, hes = _beta_he(a[idx], h[idx], wb)
    tail = (1.0 - level) / 2.0 * 100.0
    q = [tail, 100.0 - tail]
    b_lo, b_hi = np.nanpercentile(betas, q)
    he_lo, he_hi = np.nanpercentile(hes, q)
    return (float(b_lo), float(b_hi)), (float(he_lo), float(he_hi))


def _fisher_ci(
    rho: float, n_eff: float, level: float, vol_ratio: float
) -> tuple[tuple[float, float], tuple[float, float]]:
    if n_eff <= 3:
        raise InputError("effective_n", n_eff, "Fisher-z needs more than 3; lengthen the half-life")
    z = math.atanh(max(min(rho, 1 - 1e-15), -1 + 1e-15))
    half = NormalDist().inv_cdf(0.5 + level / 2.0) / math.sqrt(n_eff - 3.0)
    lo, hi = math.tanh(z - half), math.tanh(z + half)
    he_lo = 0.0 if lo < 0 < hi else min(lo * lo, hi * hi)
    return (lo * vol_ratio, hi * vol_ratio), (he_lo, max(lo * lo, hi * hi))


def min_variance_hedge(  # noqa: PLR0913 (keyword options of one estimate)
    asset_returns: FloatArray,
    hedge_returns: FloatArray,
    *,
    ewma_halflife: float | None = None,
    ewma_lambda: float | None = None,
    ci_level: float = 0.95,
    ci_method: CiMethod = CiMethod.BOOTSTRAP,
    rng: np.random.Generator | None = None,
    n_boot: int = 1000,
    block_len: int | None = None,
) -> HedgeRatioEstimate:
    """Minimum-variance hedge ratio of `asset_returns` on `hedge_returns` (see module docstring).

    The bootstrap method needs `rng` (e.g. numpy.random.default_rng(0)).
    """
    a = np.asarray(asset_returns, dtype=np.float64)
    h = np.asarray(hedge_returns, dtype=np.float64)
    _check_returns(a, h)
    if not 0.0 < ci_level < 1.0:
        raise InputError("ci_level", ci_level, "give a level in (0, 1), e.g. 0.95")
    w = ewma_weights(a.size, ewma_halflife, ewma_lambda)
    var_a, var_h, cov = (float(m) for m in _moments(a, h, w))
    rho = cov / math.sqrt(var_a * var_h)
    n_eff = 1.0 / float(np.sum(w * w))
    if ci_method is CiMethod.FISHER_Z:
        beta_ci, he_ci = _fisher_ci(rho, n_eff, ci_level, math.sqrt(var_a / var_h))
    else:
        if rng is None:
            raise InputError("rng", None, "the bootstrap needs a seeded numpy Generator")
        block = block_len if block_len is not None else max(1, round(a.size ** (1 / 3)))
        if not 1 <= block <= a.size:
            raise InputError("block_len", block, f"give a block length in 1..{a.size}")
        beta_ci, he_ci = _bootstrap_ci(a, h, w, ci_level, rng, int(n_boot), int(block))
    return HedgeRatioEstimate(
        beta=cov / var_h,
        hedge_effectiveness=cov * cov / (var_a * var_h),
        rho=rho,
        n_obs=int(a.size),
        effective_n=n_eff,
        asset_sd=math.sqrt(var_a),
        hedge_sd=math.sqrt(var_h),
        beta_ci=beta_ci,
        he_ci=he_ci,
        ci_level=ci_level,
        ci_method=ci_method,
        ewma_halflife=ewma_halflife,
    )


def hedged_variance_ratio(asset: FloatArray, hedge: FloatArray, beta: float) -> float:
    """Var(asset - beta * hedge) / Var(asset), unweighted: 1 - HE for the OLS beta."""
    return float(np.var(asset - beta * hedge) / np.var(asset))


def k_period_returns(close: FloatArray, k: int) -> FloatArray:
    """Simple returns over non-overlapping steps of `k` closes, anchored at the last close."""
    if k < 1:
        raise InputError("interval", k, "give a return interval of at least 1 period")
    picked = close[::-1][::k][::-1]
    returns: FloatArray = picked[1:] / picked[:-1] - 1.0
    return returns


def aligned_returns(
    asset_ts_ms: IntArray,
    asset_close: FloatArray,
    hedge_ts_ms: IntArray,
    hedge_close: FloatArray,
    window_days: int,
    interval_days: int = 1,
) -> AlignedReturns:
    """k-day returns of both series over the last `window_days` of their common daily closes.

    Closes are matched on identical timestamps; a day missing from either series is skipped, so
    the return across it spans more than `interval_days`. Prices must be finite and > 0.
    """
    for name, px in (("asset_close", asset_close), ("hedge_close", hedge_close)):
        if not (np.all(np.isfinite(px)) and np.all(px > 0)):
            raise InputError(name, "NaN/<=0", "prices must be finite and positive")
    common, ia, ih = np.intersect1d(asset_ts_ms, hedge_ts_ms, return_indices=True)
    if common.size == 0:
        raise InputError("window", window_days, "the two series share no dates")
    keep = common >= common[-1] - window_days * MS_PER_DAY
    a_close, h_close, ts = asset_close[ia][keep], hedge_close[ih][keep], common[keep]
    end_ts = ts[::-1][::interval_days][::-1][1:]
    return AlignedReturns(
        asset=k_period_returns(a_close, interval_days),
        hedge=k_period_returns(h_close, interval_days),
        end_ts_ms=np.asarray(end_ts, dtype=np.int64),
        start_ms=int(ts[::-1][::interval_days][-1]),
        interval_days=interval_days,
    )
