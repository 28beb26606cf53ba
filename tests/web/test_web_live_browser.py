"""The Live page in a real browser against the fake Binance USD-M server (127.0.0.1).

The page is served as `perphedge ui [--allow-execute]` serves it, with its hidden --base-url
pointing the unmodified ccxt client at the fake; the API key and secret come from the
environment. With --allow-execute the confirmation lists the exact orders and nothing reaches
the exchange until it is confirmed; without it, no control can send and the server refuses.
Portfolio: 0.5 BTC and 8 ETH hedged 1:1 at 5x (marks 60,000 and 3,000, wallet 20,000 USDT).
"""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from playwright.sync_api import Browser

from perphedge.cli.wiring import Adapters
from perphedge.web.server import Server
from perphedge.web.state import Workspace
from tests.browser import browser, open_tab, screenshot_folder
from tests.factories import portfolio_file
from tests.fakes.binance_usdm import FakeBinance
from tests.live.test_live_e2e_hedge import BTC_ETH, CROSS_5X

__all__ = ["browser"]  # the module-scoped fixture used below

ORDER = "/fapi/v1/order"


def _page_server(fake: FakeBinance, tmp_path: Path, allow_execute: bool) -> Server:
    path = portfolio_file(tmp_path, BTC_ETH, **CROSS_5X)
    workspace = Workspace()
    workspace.load(path)
    server = Server.open(0, Adapters(), allow_execute, workspace, base_url=fake.base_url)
    server.start_in_thread()
    return server


def _venue_symbol(symbol: str) -> str:
    return symbol.split(":", maxsplit=1)[0].replace("/", "")  # BTC/USDT:USDT -> BTCUSDT


def test_orders_are_sent_only_after_the_confirmation_that_shows_them(
    browser: Browser, fake: FakeBinance, tmp_path: Path
) -> None:
    server = _page_server(fake, tmp_path, allow_execute=True)
    try:
        tab = open_tab(browser, server)
        tab.go("/live")
        page = tab.page
        assert "Orders allowed" in page.inner_text("main")
        page.locator("#account-positions").wait_for(timeout=30_000)  # read from the fake
        page.locator("#preview-open").click()
        rows = page.locator("#preview-orders tbody tr")
        rows.first.wait_for(timeout=30_000)
        shown = []
        for index in range(rows.count()):
            cells = rows.nth(index).locator("td").all_inner_texts()
            symbol, _, side, contracts, kind, price, reduce_only, _ = cells
            shown.append((_venue_symbol(symbol), side.upper(), Decimal(contracts), kind.upper(),
                          Decimal(price), reduce_only == "yes"))  # fmt: skip
        assert {s[0] for s in shown} == {"BTCUSDT", "ETHUSDT"} and len(shown) >= 2
        assert all(side == "SELL" and not reduce_only for _, side, *_, reduce_only in shown)
        assert fake.calls("POST", ORDER) == []  # shown, not sent
        shot = screenshot_folder(tmp_path) / "live-confirm-1280.jpg"
        page.screenshot(path=str(shot), full_page=True, type="jpeg", quality=55)
        send = page.locator("#send-orders")
        assert f"Send these {len(shown)} order(s) to binance (REAL MONEY)" in send.inner_text()
        send.click()
        page.locator("#sent-orders").wait_for(timeout=60_000)
        sent = [
            (o.symbol, o.side, o.qty, o.type, o.price, o.reduce_only)
            for o in sorted(fake.state.orders.values(), key=lambda o: o.order_id)
        ]
        assert sorted(sent) == sorted(shown)  # exactly the orders confirmed, nothing else
        assert len(fake.calls("POST", ORDER, "ok")) == len(shown)
        assert fake.state.position_amt("BTCUSDT") == Decimal("-0.5")
        assert fake.state.position_amt("ETHUSDT") == Decimal("-8")
        # the status panel follows by itself: the shorts show up in the positions
        page.locator(
            "#account-positions tr[data-symbol='BTC/USDT:USDT'][data-contracts^='-0.5']"
        ).wait_for(timeout=30_000)
        assert tab.errors == []
    finally:
        server.stop()


def test_without_allow_execute_nothing_can_send(
    browser: Browser, fake: FakeBinance, tmp_path: Path
) -> None:
    server = _page_server(fake, tmp_path, allow_execute=False)
    try:
        tab = open_tab(browser, server)
        tab.go("/live")
        page = tab.page
        page.locator("#account-positions").wait_for(timeout=30_000)  # it reads the account
        assert "Read-only" in page.inner_text("main")
        for control in ("#preview-open", "#preview-rebalance", "#preview-close", "#send-orders"):
            assert page.locator(control).count() == 0, control
        assert page.locator("main button").count() == 0  # no control of any kind
        csrf = {"x-csrf-token": server.launch.csrf_token, "origin": server.launch.origin}
        for path in ("/live/preview", "/live/send"):
            answer = page.request.post(
                server.launch.origin + path, form={"kind": "open"}, headers=csrf
            )
            assert answer.status == 409 and "--allow-execute" in answer.text()
        assert fake.calls("POST", ORDER) == []
        assert fake.state.orders == {}
        assert tab.errors == []
    finally:
        server.stop()
