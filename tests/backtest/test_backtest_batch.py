"""The batched kernel: every configuration of a batch agrees with its single run to 1e-12."""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from perphedge.backtest import BacktestSpec, DriftBand, HedgeLeg, run_backtest
from perphedge.backtest import kernels as kn
from perphedge.backtest.batch import run_batch
from perphedge.backtest.engine import flatten
from perphedge.errors import InputError
from tests.backtest.test_backtest_agreement import Scenario, _market, policies, scenarios

FIELDS = {
    kn.A_FUND: "leg_funding_usd",
    kn.A_FEES: "leg_fees_usd",
    kn.A_HPNL: "leg_hedge_pnl_usd",
    kn.A_LIQ: "leg_liquidation_loss_usd",
    kn.A_TOPUP: "leg_top_up_usd",
    kn.A_TRADES: "leg_trades",
    kn.A_HBARS: "leg_hedged_bars",
    kn.A_LIQBAR: "leg_liquidation_bar",
}


def _runs(spec: BacktestSpec, sc: Scenario) -> bool:
    try:
        flatten(spec, sc.data)  # a leverage above a leg's bracket maximum is refused
    except InputError:
        return False
    return True


@st.composite
def batches(draw: st.DrawFn) -> tuple[Scenario, list[BacktestSpec]]:
    sc = draw(scenarios())
    variants = [sc.spec]
    for _ in range(draw(st.integers(1, 6))):
        variants.append(
            dataclasses.replace(
                sc.spec,
                policy=draw(policies),
                leverage=draw(st.floats(1.0, 5.0)),
                initial_cash_usd=draw(st.floats(0.0, 5_000.0)),
                auto_top_up=draw(st.booleans()),
            )
        )
    return sc, [v for v in variants if _runs(v, sc)]


@settings(max_examples=40, deadline=None)
@given(batches(), st.integers(1, 2))
def test_every_configuration_equals_its_single_run(batch, jobs):
    sc, specs = batch
    got = run_batch(specs, sc.data, jobs=jobs)
    for c, spec in enumerate(specs):
        single = run_backtest(spec, sc.data)
        scale = 1.0 + float(np.abs(single.equity_unhedged_usd).max())
        for field, name in FIELDS.items():
            np.testing.assert_allclose(
                got.leg_totals(field)[c], getattr(single, name), rtol=1e-12, atol=1e-12 * scale
            )
        np.testing.assert_allclose(
            got.equity_usd[c], single.equity_usd[got.rec_bars], rtol=1e-12, atol=1e-12 * scale
        )
        summary, expected = got.summary(c), single.summary()
        assert list(summary) == list(expected)
        for key, value in expected.items():
            if math.isnan(value):
                assert math.isnan(summary[key]), key
            else:
                assert summary[key] == pytest.approx(value, rel=1e-12, abs=1e-12 * scale), key


def test_specs_with_different_legs_do_not_batch():
    data = _market(1, 50, 2, 2, 0.01)
    one = BacktestSpec((HedgeLeg(1.0, 0, 0),), DriftBand(), initial_cash_usd=1_000.0)
    two = dataclasses.replace(one, legs=(HedgeLeg(2.0, 0, 0),))
    with pytest.raises(InputError, match="same legs"):
        run_batch([one, two], data)


def test_a_batch_reports_progress_per_chunk():
    data = _market(2, 80, 1, 1, 0.01)
    spec = BacktestSpec((HedgeLeg(1.0, 0, 0),), DriftBand(), initial_cash_usd=1_000.0)
    ticks: list[int] = []
    specs = [dataclasses.replace(spec, leverage=1.0 + k / 10) for k in range(5)]
    run_batch(specs, data, jobs=2, tick=ticks.append)
    assert sum(ticks) == 5 and len(ticks) >= 2
