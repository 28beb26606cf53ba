"""Open a hedge against a fake Binance from a separate process, so that tests can kill it.

    python -m tests.fakes.drive_hedge BASE_URL HOME

Credentials come from PERPHEDGE_BINANCE_API_KEY / _SECRET. Does what `perphedge hedge open
--execute --yes` does, through the same live-core functions (finish interrupted runs, plan from
the positions and open orders read back from the exchange, journal, send), with the targets
fixed (BTC -0.5, ETH -8 at 5x), ccxt's client-side rate limiter off and short waits, so that a
run takes well under a second. Exit code 0 when the run finished.
"""

from __future__ import annotations

import sys
from decimal import Decimal
from pathlib import Path

from perphedge.clocks import SystemClock
from perphedge.exchanges.ccxt_account import CcxtAccount
from perphedge.exchanges.client import credentials_for, make_exchange
from perphedge.exchanges.market_data import CcxtMarketData
from perphedge.hedge.orders import ExecutionLimits, LegTarget
from perphedge.live.execute import (
    LiveSession,
    RunOptions,
    execute,
    propose,
    resume_open_intents,
)
from perphedge.store.journal import JOURNAL_FILE, Journal

TARGETS = (
    LegTarget("BTC/USDT:USDT", Decimal("-0.5"), 5),
    LegTarget("ETH/USDT:USDT", Decimal(-8), 5),
)
OPTIONS = RunOptions(
    poll_interval_s=0.05, order_timeout_s=0.3, send_attempts=3, retry_backoff_s=0.05
)


def main(base_url: str, home: Path, timeout_ms: int = 2000) -> None:
    exchange = make_exchange(
        "binance",
        credentials=credentials_for("binance", use_keyring=False),
        base_url=base_url,
        timeout_ms=timeout_ms,
        use_keyring=False,
    )
    exchange.enableRateLimit = False
    account = CcxtAccount(exchange, backoff_s=0.05)
    market = CcxtMarketData("binance", exchange=exchange)
    with Journal(home / JOURNAL_FILE) as journal:
        session = LiveSession(
            "binance", account, account, market, SystemClock(), journal, home, OPTIONS
        )
        resume_open_intents(session)
        proposal = propose(session, TARGETS, "open", ExecutionLimits())
        execute(session, proposal, "kill-test")


if __name__ == "__main__":
    main(sys.argv[1], Path(sys.argv[2]))
