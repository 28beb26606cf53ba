"""JSON bodies of the fake Binance USDⓈ-M server, in the exchange's own field names and types.

Shapes follow Binance's USDⓈ-M REST docs and the recorded responses under tests/fakes/data
(see PROVENANCE.md there); ccxt 4.5.90's parsers read exactly these fields.
"""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path
from typing import Any

from perphedge.margin import MarginMode, Position, Side, liquidation, maintenance_margin
from perphedge.venues.tier_tables import bundled, for_symbol
from tests.fakes.binance_state import SPECS, ExchangeState, Order, SymbolSpec, Trade

DATA = Path(__file__).with_name("data")
FUNDING_INTERVAL_MS = 8 * 3600 * 1000
# GET /sapi/v1/margin/allPairs (ccxt fetch_currencies with options fetchMargins)
MARGIN_PAIRS = [
    {"base": s.base, "id": 351637150141315861 + i, "isBuyAllowed": True, "isMarginTrade": True,
     "isSellAllowed": True, "quote": "USDT", "symbol": s.symbol}
    for i, s in enumerate(SPECS.values())
]  # fmt: skip


def num(x: Decimal) -> str:
    """Binance prints numbers as strings; trim Decimal noise to 8 decimals."""
    text = f"{x.quantize(Decimal('0.00000001')).normalize():f}"
    return "0" if text == "-0" else text


def exchange_info(now_ms: int) -> dict[str, Any]:
    return {
        "timezone": "UTC",
        "serverTime": now_ms,
        "futuresType": "U_MARGINED",
        "rateLimits": [
            {"rateLimitType": "REQUEST_WEIGHT", "interval": "MINUTE", "intervalNum": 1, "limit": 2400},
            {"rateLimitType": "ORDERS", "interval": "MINUTE", "intervalNum": 1, "limit": 1200},
        ],
        "exchangeFilters": [],
        "assets": [{"asset": "USDT", "marginAvailable": True, "autoAssetExchange": "-10000"}],
        "symbols": [_symbol(spec) for spec in SPECS.values()],
    }  # fmt: skip


def _symbol(spec: SymbolSpec) -> dict[str, Any]:
    return {
        "symbol": spec.symbol, "pair": spec.symbol, "contractType": "PERPETUAL",
        "deliveryDate": 4133404800000, "onboardDate": 1569398400000, "status": "TRADING",
        "maintMarginPercent": "2.5000", "requiredMarginPercent": "5.0000",
        "baseAsset": spec.base, "quoteAsset": "USDT", "marginAsset": "USDT",
        "pricePrecision": spec.price_precision, "quantityPrecision": spec.qty_precision,
        "baseAssetPrecision": 8, "quotePrecision": 8, "underlyingType": "COIN",
        "underlyingSubType": ["PoW"] if spec.base == "BTC" else ["Layer-1"],
        "triggerProtect": "0.0500", "liquidationFee": "0.012500", "marketTakeBound": "0.05",
        "maxMoveOrderLimit": 10000,
        "filters": [
            {"filterType": "PRICE_FILTER", "minPrice": num(spec.min_price),
             "maxPrice": num(spec.max_price), "tickSize": f"{spec.tick:f}"},
            {"filterType": "LOT_SIZE", "minQty": f"{spec.min_qty:f}", "maxQty": num(spec.max_qty),
             "stepSize": f"{spec.step:f}"},
            {"filterType": "MARKET_LOT_SIZE", "minQty": f"{spec.min_qty:f}",
             "maxQty": num(spec.market_max_qty), "stepSize": f"{spec.step:f}"},
            {"filterType": "MAX_NUM_ORDERS", "limit": 200},
            {"filterType": "MAX_NUM_ALGO_ORDERS", "limit": 10},
            {"filterType": "MIN_NOTIONAL", "notional": num(spec.min_notional)},
            {"filterType": "PERCENT_PRICE", "multiplierUp": "1.0500",
             "multiplierDown": "0.9500", "multiplierDecimal": "4"},
        ],
        "orderTypes": ["LIMIT", "MARKET", "STOP", "STOP_MARKET", "TAKE_PROFIT",
                       "TAKE_PROFIT_MARKET", "TRAILING_STOP_MARKET"],
        "timeInForce": ["GTC", "IOC", "FOK", "GTX", "GTD"],
    }  # fmt: skip


def premium_index(state: ExchangeState, symbol: str, now_ms: int) -> dict[str, Any]:
    mark = state.marks[symbol]
    return {
        "symbol": symbol, "markPrice": num(mark), "indexPrice": num(mark),
        "estimatedSettlePrice": num(mark), "lastFundingRate": num(state.funding_rates[symbol]),
        "interestRate": "0.00010000",
        "nextFundingTime": (now_ms // FUNDING_INTERVAL_MS + 1) * FUNDING_INTERVAL_MS,
        "time": now_ms,
    }  # fmt: skip


def funding_info() -> list[dict[str, Any]]:
    """GET /fapi/v1/fundingInfo: symbols' funding caps and interval (8 h here)."""
    return [
        {"symbol": s, "adjustedFundingRateCap": "0.00300000",
         "adjustedFundingRateFloor": "-0.00300000", "fundingIntervalHours": 8, "disclaimer": False}
        for s in SPECS
    ]  # fmt: skip


def funding_rate_history(symbol: str) -> list[dict[str, Any]]:
    """Recorded June 2026 BTCUSDT settlements (raw /fapi/v1/fundingRate body); others empty."""
    rows: list[dict[str, Any]] = json.loads(
        (DATA / "binance_fapi_v1_fundingRate_BTCUSDT_2026-06.json").read_text()
    )
    return [r for r in rows if r["symbol"] == symbol]


def leverage_brackets(symbol: str | None) -> list[dict[str, Any]]:
    """Brackets from perphedge's bundled Binance tier tables, in the native (numeric) shape."""
    out = []
    for spec in SPECS.values():
        table = for_symbol("binance", spec.symbol)
        if table is None or symbol not in (None, spec.symbol):
            continue
        brackets = [
            {"bracket": i + 1, "initialLeverage": int(t.max_leverage),
             "notionalCap": int(t.cap), "notionalFloor": int(t.floor),
             "maintMarginRatio": t.mmr, "cum": t.cum}
            for i, t in enumerate(table.tiers)
        ]  # fmt: skip
        out.append({"symbol": spec.symbol, "brackets": brackets})
    return out


def order(o: Order) -> dict[str, Any]:
    avg = o.cum_quote / o.executed if o.executed else Decimal(0)
    return {
        "orderId": o.order_id, "symbol": o.symbol, "status": o.status,
        "clientOrderId": o.client_id, "price": num(o.price), "avgPrice": num(avg),
        "origQty": num(o.qty), "executedQty": num(o.executed), "cumQty": num(o.executed),
        "cumQuote": num(o.cum_quote), "timeInForce": o.time_in_force, "type": o.type,
        "reduceOnly": o.reduce_only, "closePosition": False, "side": o.side,
        "positionSide": "BOTH", "stopPrice": "0.00", "workingType": "CONTRACT_PRICE",
        "priceProtect": False, "origType": o.type, "priceMatch": "NONE",
        "selfTradePreventionMode": "EXPIRE_MAKER", "goodTillDate": 0, "time": o.time_ms,
        "updateTime": o.update_ms,
    }  # fmt: skip


def trade(t: Trade) -> dict[str, Any]:
    return {
        "buyer": t.side == "BUY", "commission": num(t.commission), "commissionAsset": "USDT",
        "id": t.trade_id, "maker": t.maker, "orderId": t.order_id, "price": num(t.price),
        "qty": num(t.qty), "quoteQty": num(t.qty * t.price),
        "realizedPnl": num(t.realized_pnl), "side": t.side, "positionSide": "BOTH",
        "symbol": t.symbol, "time": t.time_ms,
    }  # fmt: skip


def _core_position(state: ExchangeState, symbol: str) -> Position | None:
    pos = state.positions.get(symbol)
    if pos is None or pos.amt == 0:
        return None
    side = Side.LONG if pos.amt > 0 else Side.SHORT
    return Position(side, float(abs(pos.amt)), float(pos.entry))


def maint_margin(state: ExchangeState, symbol: str) -> Decimal:
    """Tiered maintenance margin at the mark (perphedge.margin, Binance brackets)."""
    pos = _core_position(state, symbol)
    if pos is None:
        return Decimal(0)
    mm = maintenance_margin(pos, float(state.marks[symbol]), bundled(f"binance:{symbol}"))
    return Decimal(repr(mm))


def liquidation_price(state: ExchangeState, symbol: str) -> Decimal:
    """Liquidation price as Binance computes it (perphedge.margin): an isolated position on its
    own wallet, a cross one on the cross wallet beside the others; 0 when none."""
    pos = _core_position(state, symbol)
    if pos is None:
        return Decimal(0)
    tiers = bundled(f"binance:{symbol}")
    if state.margin_types.get(symbol) == "ISOLATED":
        wallet = _isolated(state, symbol, state.position_im(symbol))
        liq = liquidation(pos, float(wallet), tiers, mode=MarginMode.ISOLATED)
    else:
        others = [s for s in SPECS if s != symbol]
        liq = liquidation(
            pos, float(state.wallet), tiers, mode=MarginMode.CROSS,
            other_mm=float(sum(maint_margin(state, s) for s in others)),
            other_upnl=float(sum(state.upnl(s) for s in others)),
        )  # fmt: skip
    return (
        Decimal(0) if liq.price is None else Decimal(repr(liq.price)).quantize(SPECS[symbol].tick)
    )


def _isolated(state: ExchangeState, symbol: str, im: Decimal) -> Decimal:
    """An isolated position's wallet: its initial margin plus what was moved onto it; 0 cross."""
    if state.margin_types.get(symbol) != "ISOLATED" or not state.position_amt(symbol):
        return Decimal(0)
    return im + state.isolated_extra.get(symbol, Decimal(0))


def position_risk(state: ExchangeState, symbol: str) -> dict[str, Any]:
    pos = state.positions.get(symbol)
    amt = pos.amt if pos else Decimal(0)
    mark = state.marks[symbol]
    im = state.position_im(symbol)
    return {
        "symbol": symbol, "positionSide": "BOTH", "positionAmt": num(amt),
        "entryPrice": num(pos.entry if pos else Decimal(0)),
        "breakEvenPrice": num(pos.entry if pos else Decimal(0)), "markPrice": num(mark),
        "unRealizedProfit": num(state.upnl(symbol)),
        "liquidationPrice": num(liquidation_price(state, symbol)),
        "isolatedMargin": num(_isolated(state, symbol, im) + state.upnl(symbol)),
        "notional": num(amt * mark), "marginAsset": "USDT",
        "isolatedWallet": num(_isolated(state, symbol, im)),
        "initialMargin": num(im + state.order_im(symbol)),
        "maintMargin": num(maint_margin(state, symbol)),
        "positionInitialMargin": num(im), "openOrderInitialMargin": num(state.order_im(symbol)),
        "adl": 0, "bidNotional": "0", "askNotional": "0",
        "updateTime": pos.update_ms if pos else 0,
    }  # fmt: skip


def account(state: ExchangeState, now_ms: int) -> dict[str, Any]:
    """GET /fapi/v3/account (ccxt fetch_balance on linear swaps)."""
    upnl = sum((state.upnl(s) for s in state.marks), Decimal(0))
    pos_im = sum((state.position_im(s) for s in state.marks), Decimal(0))
    ord_im = state.order_im()
    mm = sum((maint_margin(state, s) for s in SPECS), Decimal(0))
    avail = state.available()
    asset = {
        "asset": "USDT", "walletBalance": num(state.wallet), "unrealizedProfit": num(upnl),
        "marginBalance": num(state.wallet + upnl), "maintMargin": num(mm),
        "initialMargin": num(pos_im + ord_im), "positionInitialMargin": num(pos_im),
        "openOrderInitialMargin": num(ord_im), "crossWalletBalance": num(state.wallet),
        "crossUnPnl": num(upnl), "availableBalance": num(avail),
        "maxWithdrawAmount": num(max(avail, Decimal(0))), "updateTime": now_ms,
    }  # fmt: skip
    positions = [
        {k: v for k, v in position_risk(state, s).items()
         if k in ("symbol", "positionSide", "positionAmt", "unrealizedProfit", "isolatedMargin",
                  "notional", "isolatedWallet", "initialMargin", "maintMargin", "updateTime")}
        for s, p in state.positions.items() if p.amt != 0
    ]  # fmt: skip
    return {
        "totalInitialMargin": asset["initialMargin"], "totalMaintMargin": num(mm),
        "totalWalletBalance": asset["walletBalance"], "totalUnrealizedProfit": num(upnl),
        "totalMarginBalance": asset["marginBalance"],
        "totalPositionInitialMargin": num(pos_im), "totalOpenOrderInitialMargin": num(ord_im),
        "totalCrossWalletBalance": asset["walletBalance"], "totalCrossUnPnl": num(upnl),
        "availableBalance": asset["availableBalance"],
        "maxWithdrawAmount": asset["maxWithdrawAmount"], "assets": [asset],
        "positions": positions,
    }  # fmt: skip


def api_restrictions(state: ExchangeState, now_ms: int) -> dict[str, Any]:
    """GET /sapi/v1/account/apiRestrictions."""
    return {
        "ipRestrict": False, "createTime": now_ms - 86_400_000, "enableReading": True,
        "enableSpotAndMarginTrading": False, "enableWithdrawals": state.can_withdraw,
        "enableInternalTransfer": False, "enableMargin": False, "enableFutures": state.key_can_trade,
        "permitsUniversalTransfer": False, "enableVanillaOptions": False,
        "enableFixApiTrade": False, "enableFixReadOnly": False,
        "enablePortfolioMarginTrading": False,
    }  # fmt: skip


def capital_config() -> list[dict[str, Any]]:
    """GET /sapi/v1/capital/config/getall (ccxt load_markets -> fetch_currencies with a key)."""
    coins = (("USDT", "TetherUS", "ETH", "0.000001"), ("BTC", "Bitcoin", "BTC", "0.00000001"),
             ("ETH", "Ethereum", "ETH", "0.00000001"))  # fmt: skip
    return [
        {
            "coin": coin, "name": name, "depositAllEnable": True, "withdrawAllEnable": True,
            "free": "0", "locked": "0", "freeze": "0", "withdrawing": "0", "ipoing": "0",
            "ipoable": "0", "storage": "0", "isLegalMoney": False, "trading": True,
            "networkList": [{
                "network": network, "coin": coin, "withdrawIntegerMultiple": multiple,
                "isDefault": True, "depositEnable": True, "withdrawEnable": True,
                "depositDesc": "", "withdrawDesc": "", "name": network, "resetAddressStatus": False,
                "withdrawFee": "0", "withdrawMin": "0", "withdrawMax": "9999999999",
                "minConfirm": 1, "unLockConfirm": 0, "sameAddress": False, "busy": False,
            }],
        }
        for coin, name, network, multiple in coins
    ]  # fmt: skip
