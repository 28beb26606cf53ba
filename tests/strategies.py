"""Hypothesis strategies shared by the property tests."""

from __future__ import annotations

from hypothesis import strategies as st

prices = st.floats(min_value=1e-2, max_value=1e6, allow_nan=False, allow_infinity=False)
sizes = st.floats(min_value=1e-4, max_value=1e4, allow_nan=False, allow_infinity=False)
leverages = st.floats(min_value=1.0, max_value=100.0, allow_nan=False, allow_infinity=False)
mmrs = st.floats(min_value=1e-3, max_value=0.2, allow_nan=False, allow_infinity=False)
rates = st.floats(min_value=-0.03, max_value=0.03, allow_nan=False, allow_infinity=False)
