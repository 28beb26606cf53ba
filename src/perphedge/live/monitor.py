"""One monitoring snapshot of a running hedge, its alerts, and where alerts go.

`snapshot(...)` reads only (Account and MarketData ports; a read-only API key suffices):
holdings from the portfolio file beside the exchange's balances of those coins, each hedge leg's
position against its target (drift), mark, liquidation price and distance (the exchange's, else
`perphedge.margin.position_risk`), the account margin ratio (maintenance margin / equity, as
Binance; with coin-margined wallets, the highest wallet's), the next funding payment at the
current rate (`perphedge.funding.funding_payment`: positive rate, the short earns) and the
funding received so far (exchange history, kept in the journal). Coin amounts (coin-margined
wallets, PnL and funding) are valued in USD at the leg's current mark; `unrealized_pnl` stays in
the leg's settle currency. `alerts_for(snapshot, thresholds)` names every threshold crossed,
and every leg in `liquidated` (lost to a confirmed liquidation, not re-opened since: the
caller looks them up with `perphedge.live.liquidations.unhedged`), in the words of
`liquidation_alert`.
Sinks: the terminal (the CLI), a JSON-lines log (PERPHEDGE_HOME/logs/monitor.log) and an optional
webhook (HTTP POST of the alert as JSON). A failing webhook is reported, never fatal.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

from perphedge.config import PortfolioConfig
from perphedge.funding import funding_payment
from perphedge.hedge.orders import LegTarget, drift_fraction, notional_usd
from perphedge.instruments import Perpetual
from perphedge.margin import Position, Side, distance_to, maintenance_margin, position_risk
from perphedge.ports import Account, Balance, Liquidation, MarketData, PositionState
from perphedge.store.journal import Journal
from perphedge.store.private import append_private


@dataclass(frozen=True)
class Thresholds:
    """Alert when drift > max_drift (fraction of target), distance < min_liquidation_distance,
    margin ratio > max_margin_ratio, or the short pays funding (rate < 0) when alert_on_paying."""

    max_drift: float = 0.05
    min_liquidation_distance: float = 0.30
    max_margin_ratio: float = 0.50
    alert_on_paying: bool = True


@dataclass(frozen=True)
class HoldingLine:
    asset: str
    qty_file: float
    qty_exchange: float | None


@dataclass(frozen=True)
class LegSnapshot:
    symbol: str
    target_contracts: Decimal
    position_contracts: Decimal
    drift_contracts: Decimal
    drift_fraction: float | None
    mark: float
    entry_price: float | None
    notional_usd: float
    unrealized_pnl: float
    liquidation_price: float | None
    distance_to_liquidation: float | None
    rate_per_interval: float
    next_funding_ms: int | None
    next_funding_usd: float
    funding_received_usd: float


STABLE_USD = ("USDT", "USDC", "USD")  # wallets counted at 1 USD and margined as one pool


@dataclass(frozen=True)
class _LegRisk:
    """What the account totals need from one leg: its wallet pool, MM and PnL in it, USD rate."""

    pool: str
    mm: float
    upnl: float
    usd_per_unit: float


@dataclass(frozen=True)
class Alert:
    code: str
    subject: str
    message: str


@dataclass(frozen=True)
class Snapshot:
    ts_ms: int
    exchange: str
    portfolio: str
    holdings: tuple[HoldingLine, ...]
    equity_usd: float
    margin_ratio: float | None
    legs: tuple[LegSnapshot, ...]
    alerts: tuple[Alert, ...] = ()
    # positions on the account that the portfolio file does not describe: (symbol, contracts)
    not_in_file: tuple[tuple[str, Decimal], ...] = ()
    # legs lost to a confirmed liquidation and not re-opened since
    liquidated: tuple[Liquidation, ...] = ()


def liquidation_words(liq: Liquidation) -> str:
    """A liquidation in plain words: size, price, time (UTC) and the margin it cost, or that
    the exchange's record does not say (Binance's forceOrders, read through ccxt, does not)."""
    when = datetime.fromtimestamp(liq.ts_ms / 1000, UTC).strftime("%Y-%m-%d %H:%M UTC")
    lost = (
        "margin lost: not reported by the exchange (its liquidation record does not carry it; "
        "see the account's wallet history)"
        if liq.margin_lost is None
        else f"{liq.margin_lost:,.2f} {liq.currency} of margin lost"
    )
    side = "short" if liq.contracts > 0 else "long"
    return (
        f"the {side} of {abs(liq.contracts).normalize():f} contracts was liquidated at "
        f"{liq.price.normalize():f} on {when}; {lost}; the coins are unhedged until it is re-opened"
    )


def liquidation_alert(liq: Liquidation) -> Alert:
    """The alert for a leg lost to a liquidation (its subject names the symbol)."""
    return Alert("liquidated", liq.symbol, liquidation_words(liq))


def _position(state: PositionState | None, mark: float, inst: Perpetual) -> Position | None:
    if state is None or state.contracts == 0:
        return None
    side = Side.LONG if state.contracts > 0 else Side.SHORT
    entry = float(state.entry_price) if state.entry_price else mark
    size = inst.size_from_contracts(float(abs(state.contracts)))
    return Position(side, size, entry, inst.kind, inst.contract_size)


def _liquidation(
    state: PositionState | None, pos: Position | None, mark: float, inst: Perpetual
) -> float | None:
    """The exchange's liquidation price, else `margin.position_risk`'s at the leverage."""
    if state is not None and state.liquidation_price is not None:
        return float(state.liquidation_price)
    if pos is None or state is None or not state.leverage:
        return None
    risk = position_risk(pos, leverage=float(state.leverage), mark=mark, tiers=inst.tiers)
    return risk.liquidation_price


def _leg(
    target: LegTarget, state: PositionState | None, market: MarketData, received: float
) -> tuple[LegSnapshot, _LegRisk]:
    """The leg's snapshot and its risk in its settle currency (`received` in that currency)."""
    inst = market.instrument(target.symbol)
    mark = float(market.mark_price(target.symbol).price)
    to_usd = mark if inst.is_inverse else 1.0
    rate = market.funding_rate(target.symbol)
    held = state.contracts if state else Decimal(0)
    drift = held - target.target_contracts
    pos = _position(state, mark, inst)
    liq = _liquidation(state, pos, mark, inst)
    mm = 0.0
    if pos is not None:
        reported = state.maintenance_margin if state else None
        mm = float(reported) if reported else maintenance_margin(pos, mark, inst.tiers)
    off = drift_fraction(held, target.target_contracts)
    next_funding = 0.0 if pos is None else funding_payment(pos, mark, rate.rate_per_interval)
    leg = LegSnapshot(
        symbol=target.symbol,
        target_contracts=target.target_contracts,
        position_contracts=held,
        drift_contracts=drift,
        drift_fraction=None if off is None else float(off),
        mark=mark,
        entry_price=None if pos is None else pos.entry_price,
        notional_usd=notional_usd(inst, held, Decimal(str(mark))),
        unrealized_pnl=float(state.unrealized_pnl) if state else 0.0,
        liquidation_price=liq,
        distance_to_liquidation=distance_to(liq, mark),
        rate_per_interval=rate.rate_per_interval,
        next_funding_ms=rate.next_funding_ms,
        next_funding_usd=next_funding * to_usd,
        funding_received_usd=received * to_usd,
    )
    pool = "USD" if inst.settle in STABLE_USD else inst.settle
    return leg, _LegRisk(pool, mm, leg.unrealized_pnl, to_usd)


def snapshot(
    config: PortfolioConfig,
    exchange: str,
    targets: Sequence[LegTarget],
    account: Account,
    market: MarketData,
    journal: Journal,
    now_ms: int,
    account_id: str | None = None,
) -> Snapshot:
    """Read the account and the market once (see the module docstring). Funding is journaled
    under `account_id` (default: `exchange`)."""
    account_id = account_id or exchange
    symbols = [t.symbol for t in targets]
    every = account.positions([])  # every position of the account, to flag those not in the file
    states = {p.symbol: p for p in every if p.symbol in symbols}
    others = tuple((p.symbol, p.contracts) for p in every if p.symbol not in symbols)
    balances = {b.currency: b for b in account.balances()}
    legs: list[LegSnapshot] = []
    risks: list[_LegRisk] = []
    for target in targets:
        since_ms = (journal.last_funding_ms(target.symbol, account_id) or -1) + 1
        journal.record_funding(account.funding_received(target.symbol, since_ms), account_id)
        received = float(journal.funding_total(target.symbol, account_id))
        leg, risk = _leg(target, states.get(target.symbol), market, received)
        legs.append(leg)
        risks.append(risk)
    equity, ratio = _account_totals(balances, risks)
    holdings = tuple(
        HoldingLine(
            h.asset,
            h.qty_base,
            float(balances[h.asset].total) if h.asset in balances else None,
        )
        for h in config.portfolio.holdings
    )
    return Snapshot(now_ms, exchange, config.name, holdings, equity, ratio, tuple(legs), (), others)


def _account_totals(
    balances: dict[str, Balance], risks: Sequence[_LegRisk]
) -> tuple[float, float | None]:
    """Equity in USD and the margin ratio of the most loaded wallet pool (None when a pool
    with margin has no equity). Stablecoins form one pool; each coin wallet its own, valued at
    its leg's mark (a coin without a leg is not counted)."""
    usd = {r.pool: r.usd_per_unit for r in risks} | {"USD": 1.0}
    wallet: dict[str, float] = {}
    for currency, b in balances.items():
        pool = "USD" if currency in STABLE_USD else currency
        if pool in usd:
            wallet[pool] = wallet.get(pool, 0.0) + float(b.total)
    pools = sorted(set(wallet) | {r.pool for r in risks})
    equity = {p: wallet.get(p, 0.0) + sum(r.upnl for r in risks if r.pool == p) for p in pools}
    mm = {p: sum(r.mm for r in risks if r.pool == p) for p in pools}
    total_usd = sum(equity[p] * usd[p] for p in pools)
    if any(equity[p] <= 0 and (mm[p] > 0 or p == "USD") for p in pools):
        return total_usd, None
    ratios = [mm[p] / equity[p] for p in pools]
    return total_usd, max(ratios, default=None)


def _leg_alerts(leg: LegSnapshot, limits: Thresholds) -> list[Alert]:
    out: list[Alert] = []
    if leg.drift_fraction is not None and leg.drift_fraction > limits.max_drift:
        text = (
            f"position {leg.position_contracts} vs target {leg.target_contracts} "
            f"({leg.drift_fraction:.1%} off, limit {limits.max_drift:.1%}): "
            "run perphedge hedge rebalance"
        )
        out.append(Alert("drift", leg.symbol, text))
    dist = leg.distance_to_liquidation
    if dist is not None and dist < limits.min_liquidation_distance:
        text = (
            f"liquidation at {leg.liquidation_price:,.2f} is {dist:.1%} from the mark "
            f"{leg.mark:,.2f} (limit {limits.min_liquidation_distance:.0%}): add margin"
        )
        out.append(Alert("liquidation", leg.symbol, text))
    if limits.alert_on_paying and leg.position_contracts < 0 and leg.rate_per_interval < 0:
        text = (
            f"funding rate {leg.rate_per_interval:.4%} is negative: the short pays "
            f"{-leg.next_funding_usd:,.2f} USD at the next settlement"
        )
        out.append(Alert("funding", leg.symbol, text))
    return out


def alerts_for(snap: Snapshot, limits: Thresholds) -> tuple[Alert, ...]:
    """Every threshold the snapshot crosses."""
    out = [alert for leg in snap.legs for alert in _leg_alerts(leg, limits)]
    if snap.margin_ratio is not None and snap.margin_ratio > limits.max_margin_ratio:
        text = (
            f"margin ratio {snap.margin_ratio:.1%} above {limits.max_margin_ratio:.0%} "
            "(liquidation at 100 %): add margin or reduce the hedge"
        )
        out.append(Alert("margin_ratio", "account", text))
    for symbol, contracts in snap.not_in_file:
        text = (
            f"position of {contracts} contracts is not in the portfolio file: close it with "
            "perphedge hedge close, or add the coin to the file"
        )
        out.append(Alert("not_in_file", symbol, text))
    if snap.equity_usd <= 0:
        out.append(Alert("equity", "account", f"equity is {snap.equity_usd:,.2f} USD"))
    out += [liquidation_alert(liq) for liq in snap.liquidated]
    return tuple(out)


def log_alerts(home: Path, ts_ms: int, exchange: str, alerts: Sequence[Alert]) -> None:
    """Append alerts as JSON lines to PERPHEDGE_HOME/logs/monitor.log (0600)."""
    lines = [
        json.dumps({"ts_ms": ts_ms, "exchange": exchange, **asdict(alert)}) + "\n"
        for alert in alerts
    ]
    append_private(home / "logs" / "monitor.log", "".join(lines))


def post_webhook(
    url: str,
    portfolio: str,
    exchange: str,
    ts_ms: int,
    alerts: Sequence[Alert],
    timeout_s: float = 5.0,
) -> str:
    """POST {"portfolio", "exchange", "ts_ms", "alerts": [...]} as JSON; returns "" or the error."""
    body = json.dumps(
        {
            "portfolio": portfolio,
            "exchange": exchange,
            "ts_ms": ts_ms,
            "alerts": [asdict(a) for a in alerts],
        }
    ).encode()
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout_s) as response:
            status = int(response.status)
    except (urllib.error.URLError, OSError) as bad:
        return f"webhook failed: {type(bad).__name__}"
    return "" if 200 <= status < 300 else f"webhook answered HTTP {status}"
