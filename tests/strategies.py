"""Hypothesis strategies shared by the property tests."""

from __future__ import annotations

from hypothesis import strategies as st

prices = st.floats(min_value=1e-2, max_value=1e6, allow_nan=False, allow_infinity=False)
sizes = st.floats(min_value=1e-4, max_value=1e4, allow_nan=False, allow_infinity=False)
leverages = st.floats(min_value=1.0, max_value=100.0, allow_nan=False, allow_infinity=False)
mmrs = st.floats(min_value=1e-3, max_value=0.2, allow_nan=False, allow_infinity=False)
rates = st.floats(min_value=-0.03, max_value=0.03, allow_nan=False, allow_infinity=False)


def funding_rate_arrays(min_size: int = 0, max_size: int = 60) -> st.SearchStrategy[list[float]]:
    """Funding rates per interval, rounded to 1e-6 like venue data, with many negatives and zeros."""
    per_event = st.one_of(rates.map(lambda r: round(r, 6)), st.sampled_from([0.0, 1e-4, -1e-4]))
    return st.lists(per_event, min_size=min_size, max_size=max_size)


def return_pairs(
    min_size: int = 8, max_size: int = 120
) -> st.SearchStrategy[list[tuple[float, float]]]:
    """(asset, hedge) simple returns per interval, within +-30 %."""
    ret = st.floats(min_value=-0.3, max_value=0.3, allow_nan=False, allow_infinity=False)
    return st.lists(st.tuples(ret, ret), min_size=min_size, max_size=max_size)


# price shocks as fractions (-0.9 = -90 %, 3.0 = +300 %)
shocks = st.floats(min_value=-0.9, max_value=3.0, allow_nan=False, allow_infinity=False)
