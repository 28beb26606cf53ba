"""One guard per account: refuse to trade beside another perphedge run on the same symbols.

The run lock (`perphedge.live.execute.exclusive_run`) keeps two runs of one data folder apart;
nothing local can see a run from another folder (another machine, another PERPHEDGE_HOME) on
the same exchange account. The exchange can: every perphedge order carries the client-id
prefix "ph", and this folder's journal knows every id it ever sent. So before sending, a run
refuses (SafetyError, exit 3) when the account has, on a symbol it is about to trade,
* an open order with the prefix that this journal never sent, or
* a fill of such an order within the last `window_ms` (default 15 min),
unless `force` (`--force`). Two runs that both check before either has sent anything still
pass; the window closes as soon as one has an order on the exchange.
"""

from __future__ import annotations

from collections.abc import Sequence

from perphedge.errors import SafetyError
from perphedge.hedge.orders import CLIENT_ID_PREFIX
from perphedge.ports import Account, Execution
from perphedge.store.journal import Journal

DEFAULT_WINDOW_MS = 15 * 60_000


def other_runs(
    journal: Journal,
    account: Account,
    execution: Execution,
    symbols: Sequence[str],
    now_ms: int,
    window_ms: int = DEFAULT_WINDOW_MS,
) -> list[str]:
    """What the exchange shows of perphedge runs this journal does not know, in words."""
    found: list[str] = []
    for symbol in symbols:
        for order in account.open_orders(symbol):
            cid = order.client_order_id
            if cid.startswith(CLIENT_ID_PREFIX) and not journal.knows_order(cid):
                found.append(f"{symbol}: open order {cid} ({order.side.value} {order.qty})")
        for fill in execution.fills(symbol, now_ms - window_ms):
            cid = fill.client_order_id
            if cid.startswith(CLIENT_ID_PREFIX) and not journal.knows_order(cid):
                found.append(f"{symbol}: fill {fill.trade_id} of order {cid} ({fill.qty})")
    return found


def require_alone(found: Sequence[str], force: bool) -> None:
    """SafetyError (exit 3) when another run was seen, unless `force`."""
    if found and not force:
        shown = "; ".join(found[:5]) + (f"; and {len(found) - 5} more" if len(found) > 5 else "")
        raise SafetyError(
            f"another perphedge run (another data folder) is trading this account: {shown}. "
            "Nothing was sent. Wait for it to finish, or add --force if you are sure"
        )
