"""ccxt errors translated once into perphedge's tree, and the one retry loop.

    ccxt.OperationFailed: NetworkError (timeouts, rate limits, DDoS protection, maintenance,
        unavailable), BadResponse, and venue codes ccxt files there (Binance -1001 "internal error")
        -> TemporaryExchangeError   retry with bounded exponential backoff
    ccxt.NullResponse               -> PermanentExchangeError   the venue has no data for it
    ccxt.NotSupported               -> CapabilityError          pick another venue or feature
    ccxt.AuthenticationError, PermissionDenied, AccountSuspended
        -> PermanentExchangeError   fix the API key; never retried
    ccxt.BadSymbol                  -> PermanentExchangeError   unknown market on the venue
    any other ccxt.BaseError        -> PermanentExchangeError

Use `with translated(venue, action): ...` around every ccxt call, or `call(...)` which also
retries temporary errors. Nothing outside perphedge.exchanges sees a ccxt exception.
`call` is for idempotent requests (market data, reads); an order is re-sent only by code that
looks it up by its client order id first.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import ccxt

from perphedge.errors import (
    CapabilityError,
    PermanentExchangeError,
    PerphedgeError,
    TemporaryExchangeError,
)

T = TypeVar("T")

DEFAULT_ATTEMPTS = 4
DEFAULT_BASE_DELAY_S = 0.5
DEFAULT_MAX_DELAY_S = 8.0

_AUTH = (ccxt.AuthenticationError, ccxt.PermissionDenied, ccxt.AccountSuspended)


def translate(error: BaseException, venue: str, action: str) -> PerphedgeError:
    """The perphedge error for a ccxt error raised while doing `action` on `venue`."""
    detail = " ".join(str(error).split())[:300] or type(error).__name__
    where = f"{venue}: {action} failed"
    if isinstance(error, ccxt.NullResponse):
        return PermanentExchangeError(f"{where}: the exchange returned no data ({detail})")
    if isinstance(error, ccxt.OperationFailed):
        kind = type(error).__name__
        return TemporaryExchangeError(f"{where} ({kind}): {detail}; try again later")
    if isinstance(error, ccxt.NotSupported):
        return CapabilityError(f"{where}: the venue does not support this through ccxt ({detail})")
    if isinstance(error, _AUTH):
        return PermanentExchangeError(
            f"{where}: the exchange refused the credentials ({detail}); check the API key "
            "and its permissions"
        )
    if isinstance(error, ccxt.BadSymbol):
        return PermanentExchangeError(f"{where}: unknown market ({detail})")
    return PermanentExchangeError(f"{where}: {detail}")


def needs_credentials(error: BaseException) -> bool:
    """True when a translated error came from the venue refusing (missing) credentials."""
    return isinstance(error.__cause__, _AUTH)


@contextmanager
def translated(venue: str, action: str) -> Iterator[None]:
    """Turn any ccxt error raised inside the block into its perphedge error (`raise ... from`)."""
    try:
        yield
    except ccxt.BaseError as e:
        raise translate(e, venue, action) from e


def backoff_delays(attempts: int, base_delay_s: float, max_delay_s: float) -> list[float]:
    """Delays before retries 1..attempts-1: base, 2*base, 4*base, ... capped at max_delay_s."""
    return [min(max_delay_s, base_delay_s * 2**i) for i in range(max(0, attempts - 1))]


def call(
    fn: Callable[[], T],
    venue: str,
    action: str,
    *,
    attempts: int = DEFAULT_ATTEMPTS,
    base_delay_s: float = DEFAULT_BASE_DELAY_S,
    max_delay_s: float = DEFAULT_MAX_DELAY_S,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Run `fn` (a ccxt call), translating errors; retry only temporary ones, with backoff.

    At most `attempts` tries; the last temporary error is raised once they are used up.
    Permanent and capability errors are raised at once.
    """
    delays = backoff_delays(attempts, base_delay_s, max_delay_s)
    for delay in [*delays, None]:
        try:
            with translated(venue, action):
                return fn()
        except TemporaryExchangeError:
            if delay is None:
                raise
            sleep(delay)
    raise AssertionError("unreachable")  # pragma: no cover
