"""Minimum-variance hedge ratio and hedge effectiveness (perphedge.beta)."""

from __future__ import annotations

import csv
import math

import numpy as np
import pytest
from hypothesis import given, settings

from perphedge.beta import (
    CiMethod,
    aligned_returns,
    ewma_weights,
    hedged_variance_ratio,
    k_period_returns,
    min_variance_hedge,
)
from perphedge.errors import InputError
from tests.strategies import return_pairs

DAY = 86_400_000


def test_hand_computed_tiny_case():
    h = np.array([1.0, 2.0, 3.0, 4.0, 5.0]) * 0.01
    a = np.array([2.0, 1.0, 4.0, 3.0, 6.0]) * 0.01
    est = min_variance_hedge(a, h, ci_method=CiMethod.FISHER_Z)
    # means (1e-2): h 3, a 3.2; deviations h -2 -1 0 1 2, a -1.2 -2.2 0.8 -0.2 2.8
    # sum dh*da = 2.4 + 2.2 + 0 - 0.2 + 5.6 = 10; sum dh^2 = 10; sum da^2 = 14.8
    # beta = 10 / 10 = 1; HE = 10^2 / (10 * 14.8) = 25 / 37
    assert est.beta == pytest.approx(1.0, rel=1e-12)
    assert est.hedge_effectiveness == pytest.approx(25 / 37, rel=1e-12)
    assert est.rho == pytest.approx(10 / math.sqrt(10 * 14.8), rel=1e-12)
    assert est.n_obs == 5
    assert est.effective_n == pytest.approx(5.0)
    assert est.hedge_sd == pytest.approx(math.sqrt(10 / 5) * 0.01, rel=1e-12)  # population sd
    # Fisher-z: z = atanh(rho) +- 1.959964 / sqrt(5 - 3)
    z, half = math.atanh(est.rho), 1.959963984540054 / math.sqrt(2)
    assert est.beta_ci[0] == pytest.approx(math.tanh(z - half) * math.sqrt(14.8 / 10), rel=1e-9)
    assert est.beta_ci[1] == pytest.approx(math.tanh(z + half) * math.sqrt(14.8 / 10), rel=1e-9)
    assert est.he_ci == pytest.approx((0.0, math.tanh(z + half) ** 2), rel=1e-9)  # straddles 0


def test_synthetic_beta_is_recovered_with_a_covering_interval():
    rng = np.random.default_rng(42)
    h = rng.normal(0.0, 0.03, 3000)
    a = 0.7 * h + rng.normal(0.0, 0.015, 3000)
    est = min_variance_hedge(a, h, rng=np.random.default_rng(1), n_boot=400)
    # true HE = 0.7^2 * 0.03^2 / (0.7^2 * 0.03^2 + 0.015^2) = 0.000441 / 0.000666 = 0.6622
    assert est.beta == pytest.approx(0.7, abs=0.02)  # sd(beta) = 0.015 / (0.03 sqrt 3000) = 0.009
    assert est.beta_ci[0] < 0.7 < est.beta_ci[1]
    assert est.he_ci[0] < 0.441 / 0.666 < est.he_ci[1]
    assert est.beta_ci[0] < est.beta < est.beta_ci[1]
    assert est.ci_method is CiMethod.BOOTSTRAP


def test_bootstrap_is_reproducible_with_the_same_seed():
    rng = np.random.default_rng(7)
    h = rng.normal(0, 0.02, 200)
    a = 1.2 * h + rng.normal(0, 0.02, 200)
    one = min_variance_hedge(a, h, rng=np.random.default_rng(3), n_boot=200)
    two = min_variance_hedge(a, h, rng=np.random.default_rng(3), n_boot=200)
    other = min_variance_hedge(a, h, rng=np.random.default_rng(4), n_boot=200)
    assert one == two
    assert one.beta_ci != other.beta_ci
    assert one.beta == other.beta


def test_ewma_tracks_a_recent_regime_change():
    rng = np.random.default_rng(5)
    h = rng.normal(0, 0.03, 600)
    noise = rng.normal(0, 0.005, 600)
    a = np.where(np.arange(600) < 300, 0.5, 1.5) * h + noise
    flat = min_variance_hedge(a, h, ci_method=CiMethod.FISHER_Z)
    recent = min_variance_hedge(a, h, ewma_halflife=20, ci_method=CiMethod.FISHER_Z)
    assert flat.beta == pytest.approx(1.0, abs=0.1)  # the average of the two regimes
    assert recent.beta == pytest.approx(1.5, abs=0.05)
    # Kish n_eff of a 20-step half-life: (1 + lam) / (1 - lam) with lam = 0.5^(1/20) = 57.7
    lam = 0.5 ** (1 / 20)
    assert recent.effective_n == pytest.approx((1 + lam) / (1 - lam), rel=1e-6)


def test_ewma_weights_halve_every_half_life_and_sum_to_one():
    w = ewma_weights(5, halflife=1.0)
    assert w.sum() == pytest.approx(1.0)
    assert w.tolist() == pytest.approx([1 / 31, 2 / 31, 4 / 31, 8 / 31, 16 / 31])
    assert ewma_weights(4).tolist() == [0.25] * 4
    assert ewma_weights(3, lam=0.5).tolist() == pytest.approx([1 / 7, 2 / 7, 4 / 7])


@settings(max_examples=150)
@given(pairs=return_pairs())
def test_he_equals_rho_squared_and_one_minus_hedged_variance_ratio(pairs):
    a = np.array([p[0] for p in pairs])
    h = np.array([p[1] for p in pairs])
    if np.ptp(a) < 1e-6 or np.ptp(h) < 1e-6:
        return
    est = min_variance_hedge(a, h, ci_method=CiMethod.FISHER_Z)
    assert est.hedge_effectiveness == pytest.approx(est.rho**2, rel=1e-9, abs=1e-12)
    assert 1 - hedged_variance_ratio(a, h, est.beta) == pytest.approx(
        est.hedge_effectiveness, abs=1e-9
    )
    # no other ratio hedges better (OLS is the minimum-variance ratio)
    for other in (est.beta * 0.9, est.beta + 0.05, 1.0):
        assert hedged_variance_ratio(a, h, other) >= hedged_variance_ratio(a, h, est.beta) - 1e-12
    assert est.he_ci[0] <= est.hedge_effectiveness <= est.he_ci[1] + 1e-12
    assert 0.0 <= est.hedge_effectiveness <= 1.0 + 1e-12


def test_k_period_returns_are_non_overlapping_and_anchored_at_the_last_close():
    close = np.array([100.0, 110.0, 121.0, 133.1, 146.41])
    # k=2 picks closes 0, 2, 4 -> 100, 121, 146.41 -> +21 % twice
    assert k_period_returns(close, 2).tolist() == pytest.approx([0.21, 0.21])
    # k=3 picks closes 1, 4 -> 110, 146.41 -> +33.1 %
    assert k_period_returns(close, 3).tolist() == pytest.approx([0.331])
    assert k_period_returns(close, 1).tolist() == pytest.approx([0.1] * 4)


def test_aligned_returns_use_common_dates_inside_the_window():
    ts = np.arange(10, dtype=np.int64) * DAY
    asset = 100.0 * 1.01 ** np.arange(10)
    hedge_ts = np.delete(ts, 8)  # the hedge misses day 8
    hedge = 50.0 * 1.02 ** np.delete(np.arange(10), 8)
    out = aligned_returns(ts, asset, hedge_ts, hedge, window_days=5, interval_days=1)
    # common days 0..7 and 9; the window keeps days >= 9 - 5 = 4: days 4, 5, 6, 7, 9
    assert out.start_ms == 4 * DAY
    assert out.end_ts_ms.tolist() == [5 * DAY, 6 * DAY, 7 * DAY, 9 * DAY]
    assert out.asset.tolist() == pytest.approx([0.01, 0.01, 0.01, 1.01**2 - 1])
    assert out.hedge.tolist() == pytest.approx([0.02, 0.02, 0.02, 1.02**2 - 1])


def test_eth_against_btc_on_real_daily_closes(shared_data):
    def closes(name: str) -> dict[int, float]:
        path = shared_data / "prices" / f"binance_spot_{name}usdt_1d_cryptodatadownload.csv"
        with path.open(newline="") as f:
            next(f)  # banner line
            return {int(r["Unix"]): float(r["Close"]) for r in csv.DictReader(f)}

    btc, eth = closes("btc"), closes("eth")
    days = sorted(set(btc) & set(eth))
    out = aligned_returns(
        np.array(days), np.array([eth[d] for d in days]),
        np.array(days), np.array([btc[d] for d in days]), window_days=365,
    )  # fmt: skip
    est = min_variance_hedge(out.asset, out.hedge, ci_method=CiMethod.FISHER_Z)
    # 365 days back from the last close = 366 closes = 365 returns, less the days missing in 2026
    in_window = [d for d in days if d >= days[-1] - 365 * DAY]
    assert out.asset.size == len(in_window) - 1 < 365
    # ETH moves more than BTC and mostly with it: beta above 1, HE well above one half
    assert 1.0 < est.beta < 2.0
    assert 0.5 < est.hedge_effectiveness < 0.95


@pytest.mark.parametrize(
    ("kwargs", "field"),
    [
        ({"asset": [0.1, 0.2], "hedge": [0.1, 0.2]}, "returns"),
        ({"asset": [0.1, 0.2, 0.3, 0.1, float("nan")]}, "asset_returns"),
        ({"hedge": [0.1] * 5}, "hedge_returns"),
        ({"ewma_halflife": 5.0, "ewma_lambda": 0.9}, "ewma"),
        ({"ewma_halflife": -1.0}, "ewma_halflife"),
        ({"ci_level": 1.5}, "ci_level"),
        ({"ci_method": CiMethod.BOOTSTRAP}, "rng"),
    ],
)
def test_bad_input_is_refused_naming_the_field(kwargs, field):
    asset = np.array(kwargs.pop("asset", [0.01, -0.02, 0.03, 0.0, 0.01]))
    hedge = np.array(kwargs.pop("hedge", [0.02, -0.01, 0.02, 0.01, 0.0]))
    kwargs.setdefault("ci_method", CiMethod.FISHER_Z)
    with pytest.raises(InputError) as bad:
        min_variance_hedge(asset, hedge, **kwargs)
    assert bad.value.field == field


def test_one_block_as_long_as_the_sample_only_rotates_it_so_the_interval_collapses():
    # a circular block of length n starting anywhere holds every pair once: same beta, same HE
    rng = np.random.default_rng(11)
    h = rng.normal(0, 0.02, 50)
    a = 0.9 * h + rng.normal(0, 0.01, 50)
    est = min_variance_hedge(a, h, rng=np.random.default_rng(0), n_boot=50, block_len=50)
    assert est.beta_ci == pytest.approx((est.beta, est.beta), rel=1e-12)
    assert est.he_ci == pytest.approx((est.hedge_effectiveness,) * 2, rel=1e-12)
    with pytest.raises(InputError) as bad:
        min_variance_hedge(a, h, rng=np.random.default_rng(0), block_len=51)
    assert bad.value.field == "block_len"
