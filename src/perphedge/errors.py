"""One exception tree for perphedge; each class says what the caller should do.

    PerphedgeError                 base; never raised directly
    ├── InputError                 bad input: fix the named field and run again (CLI exit 2)
    ├── DataError                  market data missing, corrupt or out of range: sync or import (exit 2)
    ├── CapabilityError            the venue cannot do this: pick another venue or feature (exit 2)
    ├── SafetyError                a guardrail refused to act: read the message, nothing was sent (exit 3)
    ├── ReconcileError             exchange and journal disagree, or an order's outcome stays
    │                              unknown: nothing more is sent until `hedge check` agrees (exit 5)
    ├── LiquidatedError            a hedge leg was liquidated and is not re-opened: the coins are
    │                              unhedged; look at the account, then re-open it (exit 5)
    └── ExchangeError              the exchange failed
        ├── TemporaryExchangeError   network, timeout, rate limit, 5xx: safe to retry with backoff
        ├── PermanentExchangeError   auth, rejected order, unknown symbol: do not retry (exit 4)
        └── PartialRunError          a run ended short of its target: "partial: X of Y" (exit 4)

The CLI maps these to exit codes in one place (`perphedge.cli.app`).
"""

from __future__ import annotations

import math


class PerphedgeError(Exception):
    """Base of every error perphedge raises on purpose."""

    exit_code = 1


class InputError(PerphedgeError, ValueError):
    """A value given by the user (or a file) is invalid. Fix it and run again.

    The message names the field, the value (or that it is missing) and the fix, on one line.
    """

    exit_code = 2

    def __init__(self, field: str, value: object, fix: str) -> None:
        self.field = field
        self.value = value
        self.fix = fix
        shown = " is missing" if value is None else f"={value!r} is invalid"
        super().__init__(f"{field}{shown}: {fix}")

    def __reduce__(self) -> tuple[type[InputError], tuple[str, object, str]]:
        # Keeps field, value and fix when the error crosses a process boundary (sweep workers).
        return (type(self), (self.field, self.value, self.fix))


class DataError(PerphedgeError):
    """Market data is missing, corrupt or does not cover the request. Sync or import data."""

    exit_code = 2


class CapabilityError(PerphedgeError):
    """The venue or instrument lacks a capability this command needs. Choose another."""

    exit_code = 2


class SafetyError(PerphedgeError):
    """A guardrail refused an action with real money. Nothing was sent."""

    exit_code = 3


class ReconcileError(PerphedgeError):
    """The account does not match what the journal says (or an outcome is unknown). Stop: run
    `perphedge hedge check`, resolve by hand or with `--adopt`, then run again."""

    exit_code = 5


class LiquidatedError(PerphedgeError):
    """The exchange's record confirms a hedge leg was liquidated and it has not been re-opened
    since (`hedge check`, `monitor --once`): its coins are unhedged. Look at the account, then
    re-open the short (`hedge keep --execute` or `hedge rebalance --execute`)."""

    exit_code = 5


class ExchangeError(PerphedgeError):
    """The exchange failed to do what was asked."""

    exit_code = 4


class TemporaryExchangeError(ExchangeError):
    """Network trouble, timeouts, rate limits, 5xx: retry with bounded backoff."""


class PermanentExchangeError(ExchangeError):
    """Authentication, rejected orders, unknown symbols: do not retry."""


def require_finite(field: str, value: float) -> float:
    """Return `value` if it is a finite number, else raise InputError naming `field`."""
    if not isinstance(value, int | float) or not math.isfinite(value):
        raise InputError(field, value, "give a finite number")
    return float(value)


def require_positive(field: str, value: float) -> float:
    """Return `value` if it is finite and > 0, else raise InputError naming `field`."""
    require_finite(field, value)
    if value <= 0:
        raise InputError(field, value, "give a number greater than zero")
    return float(value)


def require_non_negative(field: str, value: float) -> float:
    """Return `value` if it is finite and >= 0, else raise InputError naming `field`."""
    require_finite(field, value)
    if value < 0:
        raise InputError(field, value, "give a number of zero or more")
    return float(value)


def require_fraction(field: str, value: float) -> float:
    """Return `value` if it lies in [0, 1], else raise InputError naming `field`."""
    require_finite(field, value)
    if not 0.0 <= value <= 1.0:
        raise InputError(field, value, "give a fraction between 0 and 1 (0.5 = half)")
    return float(value)


def require_whole(field: str, value: int, low: int) -> int:
    """Return `value` if it is a whole number (not a bool) >= `low`, else raise InputError naming
    `field`."""
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise InputError(field, value, f"give a whole number >= {low}")
    return value


class PartialRunError(ExchangeError):
    """A run ended short of its target (partial fills, a rejected leg): the message says how far
    each leg got ("partial: X of Y") and the next step."""
