"""The Paper page's keeper table: the symbol in its own column (actions, what was sent, alerts),
the words beside it without it, and each alert said once."""

from __future__ import annotations

import html
import re

from perphedge.hedge.keeper import KeeperPolicy, keep
from perphedge.live.keep import Done, KeepStep, alerts_of
from perphedge.services.paper_keep import BAR_HOURS, KeptBar, KeptSpan
from perphedge.web.views import ENV
from tests.hedge.test_keeper import NOW, leg

SYMBOL = "BTC/USDT:USDT"


def _rows(page: str) -> list[tuple[str, list[str]]]:
    """(data-kind, cell texts) of each row of the keeper's table."""
    table = page[page.index('<table id="keep-log">') :]
    rows = re.findall(r'<tr[^>]*data-kind="(\w+)"[^>]*>(.*?)</tr>', table, re.S)
    return [(kind, [html.unescape(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)])
            for kind, row in rows]  # fmt: skip


def test_each_action_and_alert_names_its_symbol_once() -> None:
    # a rally took the margin and the reserve covers part of the top-up; the coins are elsewhere
    policy = KeeperPolicy(spot_on_exchange=False)
    decision = keep(policy, [leg(mark=80_000.0, margin=10_000.0)], 10_000.0, NOW)
    sent = (Done(SYMBOL, "margin add 10000 USDT: done"),)  # what the paper account was sent
    step = KeepStep(decision, sent, tuple(alerts_of(decision)))
    kept = KeptSpan((KeptBar(NOW, step),), None)
    page = ENV.get_template("keep_result.html").render(
        kept=kept, policy=policy, bar_hours=BAR_HOURS
    )
    rows = _rows(page)
    # the alert once, not also as an action
    assert [kind for kind, _ in rows] == ["top_up", "sent", "alert"]
    top_up, done, alert = (cells for _, cells in rows)
    assert top_up[1] == done[1] == alert[1] == SYMBOL  # the symbol's column
    assert top_up[3].startswith("liquidation 12.0% away: 10,000.00 USD of margin added")
    assert (done[2], done[3]) == ("sent", "margin add 10000 USDT: done")
    assert alert[3].startswith("move 20,550.00 USD to the margin")
    assert page[page.index('<table id="keep-log">') :].count(SYMBOL) == 3  # once a row
