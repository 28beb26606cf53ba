"""The exception tree: messages name field, value and fix; errors survive process boundaries."""

from __future__ import annotations

import math
import pickle

import pytest

from perphedge.errors import (
    DataError,
    InputError,
    SafetyError,
    TemporaryExchangeError,
    require_finite,
    require_fraction,
)


def test_input_error_message_and_pickling():
    error = InputError("ratio", 1.5, "give a fraction between 0 and 1")
    assert str(error) == "ratio=1.5 is invalid: give a fraction between 0 and 1"
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.field, copy.value, copy.fix, str(copy)) == (
        "ratio",
        1.5,
        "give a fraction between 0 and 1",
        str(error),
    )
    assert pickle.loads(pickle.dumps(DataError("no data"))).args == ("no data",)


def test_exit_codes():
    assert InputError("a", 1, "b").exit_code == 2
    assert DataError("x").exit_code == 2
    assert SafetyError("x").exit_code == 3
    assert TemporaryExchangeError("x").exit_code == 4


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_require_finite(bad):
    with pytest.raises(InputError, match="price"):
        require_finite("price", bad)


def test_require_fraction():
    assert require_fraction("ratio", 0.5) == 0.5
    with pytest.raises(InputError, match="between 0 and 1"):
        require_fraction("ratio", 1.01)
