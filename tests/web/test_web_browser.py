"""The local page in a real browser (headless Debian Chromium through Playwright)."""

from __future__ import annotations

import json
import re
import tomllib
from datetime import UTC, date, datetime
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page

from perphedge.config import load_portfolio
from perphedge.services.backtest import prepare
from perphedge.store.market import MarketStore
from perphedge.web.server import Server
from perphedge.web.views import PAGES
from tests.browser import WIDTHS, Tab, browser, open_tab, screenshot_folder, server

__all__ = ["browser", "server"]  # module-scoped fixtures used by the tests below

EXAMPLE = Path(__file__).resolve().parents[2] / "src/perphedge/data/examples/portfolio.toml"


def _settle(page: Page, selector: str) -> None:
    """Wait for the form's check of a changed field (sent 150 ms after the change): its answer
    can list several problems above the rows and move them, so a click waits for it instead of
    racing it (the field's change is dispatched again, so it is checked even when refilled
    unchanged)."""
    with page.expect_response(lambda answer: answer.url.endswith("/start/form")):
        page.dispatch_event(selector, "change")


def _fill_example(tab: Tab) -> None:
    """Type the example portfolio into the Start form as a person would."""
    page = tab.page
    example = tomllib.loads(EXAMPLE.read_text())
    for index, holding in enumerate(example["holdings"]):
        if index:
            page.get_by_role("button", name="+ Add a holding").click()
            page.wait_for_selector(f"#holdings-{index}-asset")
        page.fill(f"#holdings-{index}-asset", holding["asset"])
        page.fill(f"#holdings-{index}-quantity", str(holding["quantity"]))
        _settle(page, f"#holdings-{index}-quantity")
        page.check(f"#holdings-{index}-more")
        page.fill(f"#holdings-{index}-price", str(holding["price"]))
        _settle(page, f"#holdings-{index}-price")
    for key, value in example["hedge"].items():
        selector = f"#hedge-{key}"
        if page.locator(selector).evaluate("e => e.tagName") == "SELECT":
            page.select_option(selector, str(value))
        else:
            page.fill(selector, str(value))
        _settle(page, selector)
    page.get_by_role("button", name="Use this portfolio").click()
    page.wait_for_selector("text=Portfolio in use")


def test_build_the_example_portfolio_through_the_form(browser: Browser, server: Server) -> None:
    tab = open_tab(browser, server)
    _fill_example(tab)
    used = server.workspace.config
    expected = load_portfolio(EXAMPLE)
    assert used is not None
    assert used.portfolio == expected.portfolio and used.hedge == expected.hedge
    assert "Portfolio: BTC, ETH" in tab.page.inner_text("header")
    assert tab.errors == []


def test_a_bad_field_shows_its_error_beside_it(browser: Browser, server: Server) -> None:
    tab = open_tab(browser, server)
    page = tab.page
    page.fill("#holdings-0-asset", "BTC")
    page.fill("#holdings-0-quantity", "-3")
    page.press("#holdings-0-quantity", "Tab")
    error = page.locator("#err-holdings-0-quantity")
    error.get_by_text("greater than zero").wait_for()
    assert page.locator("#holdings-0-quantity").input_value() == "-3"  # what was typed stays
    page.fill("#holdings-0-quantity", "0.5")
    page.press("#holdings-0-quantity", "Tab")
    page.get_by_text("Everything is valid.").wait_for()
    assert error.inner_text() == ""
    assert tab.errors == []


def test_a_check_of_the_form_moves_none_of_its_rows(browser: Browser, server: Server) -> None:
    # the status line above the rows keeps its height from the hint to "valid" to an error, so
    # a row does not move under the pointer while the form answers
    server.workspace.document = server.workspace.config = None  # a blank form to start from
    tab = open_tab(browser, server)
    page = tab.page
    field = page.locator("#holdings-0-quantity")

    def top() -> float:
        box = field.bounding_box()
        assert box is not None
        return float(box["y"])

    page.get_by_text("Each change is checked as you go").wait_for()
    before = top()
    page.fill("#holdings-0-asset", "BTC")
    page.fill("#holdings-0-quantity", "0.5")
    page.press("#holdings-0-quantity", "Tab")
    page.get_by_text("Everything is valid.").wait_for()
    assert top() == before
    page.fill("#holdings-0-quantity", "-3")
    page.press("#holdings-0-quantity", "Tab")
    page.locator("#form-message").get_by_text("Please fix: ").wait_for()
    assert top() == before
    assert tab.errors == []


def test_every_bad_field_shows_its_error_at_once(browser: Browser, server: Server) -> None:
    server.workspace.document = server.workspace.config = None  # a blank form to start from
    tab = open_tab(browser, server)
    page = tab.page
    page.fill("#holdings-0-asset", "BTC")
    page.fill("#holdings-0-quantity", "-3")
    page.get_by_role("button", name="+ Add a holding").click()
    page.wait_for_selector("#holdings-1-asset")
    page.fill("#holdings-1-asset", "e t h")
    page.fill("#holdings-1-quantity", "lots")
    page.fill("#hedge-ratio", "1.5")
    page.fill("#hedge-leverage", "0.5")
    page.get_by_role("button", name="Check").click()
    problems = page.locator("#form-problems li")
    page.wait_for_function("n => document.querySelectorAll('#form-problems li').length >= n", arg=5)
    beside = {  # each field's own slot says what is wrong with it, all at the same time
        "holdings-0-quantity": "greater than zero",
        "holdings-1-asset": "coin ticker",
        "holdings-1-quantity": "give a number",
        "hedge-ratio": "between 0 and 1",
        "hedge-leverage": "at least 1",
    }
    for field, words in beside.items():
        assert words in page.locator(f"#err-{field}").inner_text(), field
    assert problems.count() == len(beside)
    assert page.locator("#holdings-1-quantity").input_value() == "lots"  # what was typed stays
    assert page.locator(".field-error:not(:empty)").count() == len(beside)
    page.fill("#hedge-ratio", "1")
    page.get_by_role("button", name="Check").click()
    page.wait_for_function("n => document.querySelectorAll('#form-problems li').length == n", arg=4)
    assert page.locator("#err-hedge-ratio").inner_text() == ""
    assert tab.errors == []


def test_save_and_load_the_file(browser: Browser, server: Server, tmp_path: Path) -> None:
    before = server.workspace.path
    tab = open_tab(browser, server)
    page = tab.page
    page.get_by_role("button", name="Fill in the example").click()
    page.wait_for_selector("text=Example filled in")
    target = tmp_path / "mine.toml"
    page.fill("#path", str(target))
    page.get_by_role("button", name="Save as TOML").click()
    page.wait_for_selector("text=Saved to")
    assert load_portfolio(target).portfolio == load_portfolio(EXAMPLE).portfolio
    page.fill("#path", str(tmp_path / "missing.toml"))
    page.get_by_role("button", name="Load").click()
    page.locator("#err-path").get_by_text("no such file").wait_for()
    page.fill("#path", str(target))
    page.get_by_role("button", name="Load").click()
    page.wait_for_selector("text=Loaded")
    assert page.input_value("#holdings-1-asset") == "ETH"
    server.workspace.path = before  # the pages after this test show the file they had


def test_without_the_token_the_browser_gets_403(browser: Browser, server: Server) -> None:
    context = browser.new_context()
    page = context.new_page()
    answer = page.goto(f"{server.launch.origin}/")
    assert answer is not None and answer.status == 403
    assert "token" in page.inner_text("body")
    assert page.goto(f"{server.launch.origin}/?token=guess").status == 403  # type: ignore[union-attr]
    context.close()


def _show_a_backtest(page: Page) -> None:
    page.fill("#since", "2024-01-01")
    page.fill("#until", "2024-06-30")
    page.check("input[name=policy][value=band]")
    page.get_by_role("button", name="Run the backtest").click()
    page.locator("#backtest-metrics").wait_for(timeout=120_000)


def _open_on_paper(page: Page) -> None:
    page.locator("#account-positions").wait_for(timeout=60_000)
    page.get_by_role("button", name="Open the hedge…").click()
    page.locator("#send-orders").click()
    page.locator("#sent-orders").wait_for(timeout=60_000)
    page.locator("#account-positions tr[data-contracts^='-']").first.wait_for(timeout=30_000)


SHOW = {  # what each page shows once used (the wide screenshots show it)
    "funding": lambda page: page.locator("table.ranking").first.wait_for(timeout=60_000),
    "backtest": _show_a_backtest,
    "paper": _open_on_paper,
    "live": lambda page: page.locator("#account-status .error").wait_for(),
}


@pytest.mark.parametrize("width", WIDTHS)
def test_every_page_fits_and_logs_no_error(
    browser: Browser, server: Server, width: int, tmp_path: Path
) -> None:
    tab = open_tab(browser, server, width)
    _fill_example(tab)
    folder = screenshot_folder(tmp_path)
    for key, _, href in PAGES:
        tab.go(href)
        if key in SHOW:
            SHOW[key](tab.page)
        tab.page.wait_for_load_state("networkidle")
        overflow = tab.page.evaluate(
            "document.documentElement.scrollWidth - document.documentElement.clientWidth"
        )
        assert overflow <= 0, f"{href} is {overflow}px wider than a {width}px window"
        shot = folder / f"{key}-{width}.jpg"  # narrow: the first screen only, kept small
        whole = width > 600 and key != "glossary"
        tab.page.screenshot(path=str(shot), full_page=whole, type="jpeg", quality=55)
    assert tab.errors == []


def _json_at(data: object, path: str) -> object:
    for part in path.split("."):
        data = data[int(part)] if isinstance(data, list) else data[part]  # type: ignore[index]
    return data


def test_the_plan_on_the_page_equals_plan_json(browser: Browser, server: Server, run_cli) -> None:
    server.workspace.load(EXAMPLE)
    expected = json.loads(run_cli("plan", str(EXAMPLE), "--json").out)
    tab = open_tab(browser, server)
    tab.go("/plan")
    shown = tab.page.eval_on_selector_all(
        "[data-key]", "els => els.map(e => [e.dataset.key, e.dataset.value])"
    )
    keys = {key for key, _ in shown}
    for leg in range(len(expected["legs"])):
        for field in ("qty", "notional", "liquidation_price", "funding_per_day", "funding_apr"):
            assert f"legs.{leg}.{field}" in keys
    assert {"total_exposure", "hedge_notional", "initial_margin", "funding_per_year"} <= keys
    for key, value in shown:
        assert float(value) == _json_at(expected, key), key
    legs = tab.page.locator("#legs tbody tr")
    assert legs.count() == len(expected["legs"])
    assert "you earn" in legs.nth(0).inner_text() and "you pay" in legs.nth(1).inner_text()
    orders = tab.page.locator("#orders tbody tr")
    assert orders.count() == len(expected["orders"])
    for name in ("funding", "liquidation", "basis", "execution", "custody"):
        assert tab.page.locator(f"#risk-{name} .number").inner_text().strip()
    assert tab.errors == []


def test_moving_the_stress_slider_changes_the_table(browser: Browser, server: Server) -> None:
    server.workspace.load(EXAMPLE)
    tab = open_tab(browser, server)
    tab.go("/stress")
    page = tab.page
    table = page.locator("#stress-table")
    before = table.inner_text()
    assert page.locator("tr[data-shock='0.6']").count() == 0
    page.locator("#shock").fill("60")
    page.locator("tr.chosen[data-shock='0.6']").wait_for()
    assert table.inner_text() != before
    chosen = page.locator("tr.chosen").inner_text()
    assert "LIQUIDATED" in chosen and "LOSS" in chosen  # +60 % at 5x: the short is lost
    assert "LOSS" in page.locator("#stress-words").inner_text()
    assert "prevented by a top-up of" in page.locator("#stress-prevention").inner_text()
    page.locator("#shock").fill("-30")
    page.locator("tr.chosen[data-shock='-0.3']").wait_for()
    assert "LOSS" not in page.locator("#stress-words").inner_text()
    flat = page.locator("tr[data-shock='0.0']").inner_text()
    page.select_option("#funding", "-0.1")
    page.wait_for_function(
        "before => document.querySelector(\"tr[data-shock='0.0']\").innerText !== before", arg=flat
    )
    page.locator(".chart .main-svg").first.wait_for()  # plotly drew the new chart
    assert tab.errors == []


def test_funding_compares_venues_and_marks_the_tradable_ones(
    browser: Browser, server: Server
) -> None:
    server.workspace.load(EXAMPLE)
    tab = open_tab(browser, server)
    tab.go("/funding")
    page = tab.page
    btc = page.locator("table.ranking[data-coin='BTC']")
    btc.wait_for(timeout=60_000)  # the tables follow the page: reading history takes a while
    assert btc.locator("tbody tr").count() >= 5
    binance = btc.locator("tr[data-venue='binance']").inner_text()
    assert "tradable" in binance and "your exchange" in binance
    assert "data only" in btc.locator("tr[data-venue='gate']").inner_text()
    assert page.locator("table.ranking[data-coin='ETH']").count() == 1
    page.locator(".chart .main-svg").first.wait_for()
    assert tab.errors == []


def _bars(since: date, until: date) -> int:
    """Bars of the backtest grid between two days, read by the service the page calls."""
    since_ms, until_ms = (int(datetime(d.year, d.month, d.day, tzinfo=UTC).timestamp()) * 1000
                          for d in (since, until))  # fmt: skip
    prep = prepare(load_portfolio(EXAMPLE), since_ms, until_ms, None, False, MarketStore())
    return prep.market.n_bars


def test_backtest_shows_progress_then_every_metric_explained(
    browser: Browser, server: Server
) -> None:
    server.workspace.load(EXAMPLE)
    tab = open_tab(browser, server)
    tab.go("/backtest")
    page = tab.page
    page.fill("#since", "2024-01-01")
    page.fill("#until", "2024-03-31")
    page.check("input[name=policy][value=band]")
    seen: list[str] = []  # every progress answer the page polled
    page.on("response", lambda r: seen.append(r.text()) if "/backtest/job/" in r.url else None)
    page.get_by_role("button", name="Run the backtest").click()
    page.locator("#backtest-progress progress").wait_for()
    page.locator("#backtest-metrics").wait_for(timeout=120_000)
    # the bars of every run, as the service counted them: 3 runs (hedged, keeper, band)
    done = page.locator("#backtest-done")
    total = int(done.get_attribute("data-total") or 0)
    bars = 3 * _bars(date(2024, 1, 1), date(2024, 3, 31))
    assert int(done.get_attribute("data-done") or 0) == total == bars
    assert f"{bars:,} of {bars:,} bars simulated" in done.inner_text()
    polled = [
        (int(m.group(1)), int(m.group(2)))
        for text in seen
        if (m := re.search(r'data-done="(\d+)" data-total="(\d+)"', text))
    ]
    assert polled and polled[-1] == (bars, bars)  # the last answer: all of them
    assert all(t == bars and 0 <= d <= t for d, t in polled)
    assert [d for d, _ in polled] == sorted(d for d, _ in polled)  # it only moves forward
    headers = page.locator("#backtest-metrics thead").inner_text()
    assert "unhedged" in headers and "hedged" in headers and "band" in headers
    rows = page.locator("#backtest-metrics tbody tr")
    assert rows.count() >= 15
    for index in range(rows.count()):
        assert rows.nth(index).locator("td.words").inner_text().strip()
    page.locator(".chart .main-svg").first.wait_for()
    assert tab.errors == []


def test_a_bad_backtest_range_is_said_in_the_page(browser: Browser, server: Server) -> None:
    server.workspace.load(EXAMPLE)
    tab = open_tab(browser, server)
    tab.go("/backtest")
    tab.page.fill("#since", "2024-03-31")
    tab.page.fill("#until", "2024-01-01")
    tab.page.get_by_role("button", name="Run the backtest").click()
    error = tab.page.locator("#backtest-result .error")
    error.wait_for()
    assert "from" in error.inner_text() and "before" in error.inner_text()


def _act(page, button: str) -> None:
    page.get_by_role("button", name=button).click()


def test_open_a_paper_hedge_and_see_its_position(browser: Browser, server: Server) -> None:
    server.workspace.load(EXAMPLE)
    tab = open_tab(browser, server)
    tab.go("/paper")
    page = tab.page
    page.locator("#account-positions").wait_for(timeout=60_000)
    _act(page, "Open the hedge…")
    orders = page.locator("#preview-orders tbody tr")
    orders.first.wait_for(timeout=60_000)
    assert orders.count() >= 2  # BTC (in child orders of at most 10,000 USD) and ETH
    assert "sell" in orders.first.inner_text()
    send = page.locator("#send-orders")
    assert f"Send these {orders.count()} order(s) to the paper account" in send.inner_text()
    send.click()
    page.locator("#sent-orders").wait_for(timeout=60_000)
    btc = page.locator("#account-positions tr[data-symbol='BTC/USDT:USDT']")
    # the status panel follows by itself: the short shows up in the positions
    page.locator(
        "#account-positions tr[data-symbol='BTC/USDT:USDT'][data-contracts^='-0.5']"
    ).wait_for(timeout=30_000)
    assert "-0.5" in btc.inner_text()
    page.fill("#hours", "24")
    _act(page, "Let time pass (no keeper)")
    page.get_by_text("24 hours passed on paper.").wait_for()
    _act(page, "Close the hedge…")
    page.locator("#preview-orders").wait_for(timeout=60_000)
    assert "yes" in page.locator("#preview-orders tbody tr").first.inner_text()  # reduce-only
    assert tab.errors == []


def test_live_is_read_only_without_allow_execute(browser: Browser, server: Server) -> None:
    server.workspace.load(EXAMPLE)
    tab = open_tab(browser, server)
    tab.go("/live")
    page = tab.page
    assert "Read-only" in page.inner_text("main")
    assert page.locator("#preview-open").count() == 0
    # no key in this environment: said in one line, without contacting the exchange
    page.locator("#account-status .error").get_by_text("PERPHEDGE_BINANCE_API_KEY").wait_for()
    csrf = {"x-csrf-token": server.launch.csrf_token, "origin": server.launch.origin}
    for path in ("/live/preview", "/live/send"):
        answer = page.request.post(server.launch.origin + path, form={"kind": "open"}, headers=csrf)
        assert answer.status == 409 and "--allow-execute" in answer.text()


RALLY_START = "2024-02-26"  # BTC about 51,700 then about 73,000 on 2024-03-13 (stored marks)


def test_keep_a_paper_hedge_alive_through_a_rally(
    browser: Browser, server: Server, tmp_path: Path
) -> None:
    """From nothing to a hedge kept alive, in the page: the form, paper, the keeper."""
    server.workspace.document = server.workspace.config = None
    tab = open_tab(browser, server)
    _fill_example(tab)  # the portfolio is built on the page
    tab.go("/paper")
    page = tab.page
    page.fill("#paper-start", RALLY_START)
    page.get_by_role("button", name="Start a new paper account").click()
    page.locator("#paper-started").get_by_text("New paper account").wait_for(timeout=60_000)
    page.locator("#account-now").get_by_text(RALLY_START).wait_for(timeout=30_000)
    _open_on_paper(page)
    btc = page.locator("#account-positions tr[data-symbol='BTC/USDT:USDT']")
    mark_before = float(btc.get_attribute("data-mark") or 0)
    page.fill("#keep-days", "16")
    page.get_by_role("button", name="Advance and keep").click()
    page.locator("#keep-result, #keep-action .error").first.wait_for(timeout=180_000)
    assert page.locator("#keep-action .error").count() == 0, page.inner_text("#keep-action")
    summary = page.locator("#keep-summary").inner_text()
    assert "48 bars of 8 hours" in summary
    top_ups = page.locator("#keep-log tr[data-kind='top_up']")
    assert top_ups.count() >= 1  # the rally brought the liquidation price close: margin added
    assert "USD of margin added from the reserve" in top_ups.first.inner_text()
    symbol, words = (top_ups.first.locator(f"td:nth-child({n})").inner_text() for n in (2, 4))
    assert symbol in ("BTC/USDT:USDT", "ETH/USDT:USDT") and symbol not in words  # said once
    for symbol in ("BTC/USDT:USDT", "ETH/USDT:USDT"):  # the hedge is still open
        assert float(page.locator(f"#keep-now [data-symbol='{symbol}']").get_attribute(
            "data-size") or 0) > 0, symbol  # fmt: skip
    page.locator("#account-now").get_by_text("2024-03-13").wait_for(timeout=30_000)
    mark_after = float(btc.get_attribute("data-mark") or 0)
    assert mark_after > 1.25 * mark_before  # it was a rally
    assert float(btc.get_attribute("data-contracts") or 0) < 0  # the short is still there
    assert page.locator("#keep-log tr[data-kind='reopen']").count() == 0  # never lost
    shot = screenshot_folder(tmp_path) / "paper-keep-1280.jpg"
    page.screenshot(path=str(shot), full_page=True, type="jpeg", quality=55)
    assert tab.errors == []
