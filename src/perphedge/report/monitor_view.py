"""Tables of `perphedge monitor`: the account, holdings against the exchange, the hedge legs."""

from __future__ import annotations

from rich.console import RenderableType
from rich.markup import escape

from perphedge.live.monitor import Snapshot
from perphedge.report.render import fmt_num, fmt_pct, key_value_table, table

HEDGE_HEADERS = [
    "symbol", "position", "target", "drift", "mark", "liquidation", "distance",
    "next funding USD", "funding received USD",
]  # fmt: skip


def monitor_renderables(snap: Snapshot) -> list[RenderableType]:
    """Account, holdings and hedge tables, then one line per alert."""
    account = [
        ("equity USD", fmt_num(snap.equity_usd)),
        ("margin ratio (liquidation at 100 %)", fmt_pct(snap.margin_ratio)),
    ]
    out: list[RenderableType] = [key_value_table(f"{snap.portfolio} on {snap.exchange}", account)]
    holdings = [
        [h.asset, fmt_num(h.qty_file, 6), fmt_num(h.qty_exchange, 6)] for h in snap.holdings
    ]
    out.append(table("holdings", ["asset", "in file", "on exchange"], holdings))
    legs = [
        [leg.symbol, leg.position_contracts, leg.target_contracts, fmt_pct(leg.drift_fraction),
         fmt_num(leg.mark), fmt_num(leg.liquidation_price), fmt_pct(leg.distance_to_liquidation),
         fmt_num(leg.next_funding_usd), fmt_num(leg.funding_received_usd)]
        for leg in snap.legs
    ]  # fmt: skip
    out.append(table("hedge", HEDGE_HEADERS, legs))
    if snap.not_in_file:
        rows = [[symbol, contracts, "NOT IN THE FILE"] for symbol, contracts in snap.not_in_file]
        out.append(table("other positions on the account", ["symbol", "contracts", ""], rows))
    for alert in snap.alerts:
        line = escape(f"{alert.code} {alert.subject}: {alert.message}")
        out.append(f"[bold red]ALERT[/] {line}")
    return out
