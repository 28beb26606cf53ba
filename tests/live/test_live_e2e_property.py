"""Property: whatever sequence of faults the exchange throws, no order is doubled or lost.

Hypothesis draws a schedule of faults on order sends and lookups (answers lost after
execution, 502/503/429, timeouts before or after execution, stale "does not exist" answers)
and partial fills; the adapter places up to three orders, each retried by the caller on a
temporary error as the live core does. Invariants checked against the fake Binance:
* each client order id exists at most once on the exchange;
* every order the exchange executed is the one the adapter reports for that id, same fill;
* the position equals the sum of the fills the adapter reports.
"""

from __future__ import annotations

from decimal import Decimal

from hypothesis import given, settings
from hypothesis import strategies as st

from perphedge.errors import TemporaryExchangeError
from perphedge.exchanges.ccxt_account import CcxtAccount
from perphedge.ports import OrderRequest, OrderSide, OrderType
from tests.fakes.binance_usdm import FakeBinance, Fault, make_ccxt

BTC = "BTC/USDT:USDT"
POST = {"method": "POST", "path": "/fapi/v1/order"}
GET = {"method": "GET", "path": "/fapi/v1/order"}

faults = st.one_of(
    st.builds(lambda n: Fault.lost(drop=True, after=n, **POST), st.integers(0, 3)),
    st.builds(lambda n: Fault.lost(drop=False, after=n, **POST), st.integers(0, 3)),
    st.builds(
        lambda n, s: Fault.server_error(s, after=n, **POST),
        st.integers(0, 3),
        st.sampled_from([500, 502, 503]),
    ),
    st.builds(lambda n: Fault.rate_limit(retry_after_s=0, after=n, **POST), st.integers(0, 3)),
    st.builds(
        lambda n, p: Fault.timeout(process=p, delay_s=0.3, after=n, **POST),
        st.integers(0, 3),
        st.booleans(),
    ),
    st.builds(
        lambda n: Fault.reject(-2013, "Order does not exist.", after=n, **GET), st.integers(0, 6)
    ),
    st.builds(lambda n: Fault.server_error(503, after=n, **GET), st.integers(0, 6)),
)


@settings(max_examples=40, deadline=None)
@given(
    schedule=st.lists(faults, max_size=4),
    partials=st.lists(st.sampled_from(["0.5", "0.3"]), max_size=2),
    n_orders=st.integers(1, 3),
)
def test_no_fault_schedule_doubles_or_loses_an_order(
    schedule: list[Fault], partials: list[str], n_orders: int
) -> None:
    with FakeBinance() as fake:
        account = CcxtAccount(make_ccxt(fake, timeout_ms=150), sleep=lambda s: None)
        fake.inject(*schedule)
        fake.state.partial_next(*partials)
        for i in range(n_orders):
            req = OrderRequest(
                BTC, OrderSide.SELL, Decimal("0.010"), OrderType.LIMIT, f"ph-p-{i}", Decimal(60000)
            )
            for _ in range(3):  # the caller's retry on a temporary error, as the live core does
                try:
                    account.place_order(req)
                    break
                except TemporaryExchangeError:
                    continue
        fake.faults.clear()
        on_exchange = [o.client_id for o in fake.state.orders.values()]
        assert len(on_exchange) == len(set(on_exchange)), on_exchange
        for order in fake.state.orders.values():
            seen = account.fetch_order(BTC, order.client_id)
            assert seen is not None and seen.filled_qty == order.executed
        fills = account.fills(BTC, 0)
        assert sum((f.qty for f in fills), Decimal(0)) == -fake.state.position_amt("BTCUSDT")
        assert {f.client_order_id for f in fills} <= set(on_exchange)
