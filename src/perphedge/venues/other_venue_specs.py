"""Bundled contract specs and tiers of Bybit, OKX, BingX, MEXC and WEEX (pure data).

Rows follow `perphedge.venues.contract_specs.InstrumentRow` field order: exchange, ccxt symbol,
market id, kind, contract size, qty step, min qty, min notional, price tick, maker fee, taker
fee, liquidation fee, funding interval (hours), source, as of. Every number comes from a recorded
response in ../shared/data/venues (see its PROVENANCE.md; the file is named in `source`),
except where `source` says otherwise. Offline use only: live commands read the venue.

Liquidation fee: none of these venues publishes a clearance rate like Binance's; a liquidated
position loses its remaining margin (at least the maintenance margin), modelled as Binance's
1.25 %, which exceeds every first-tier MMR here (conservative).
"""

from __future__ import annotations

from perphedge.instruments import ContractKind, MarginTier, TierTable

_L = ContractKind.LINEAR
_I = ContractKind.INVERSE
_LIQ = 0.0125

_BYBIT = (
    "Bybit GET /v5/market/instruments-info (API documentation sample, "
    "venues/bybit/jkorf_V5Api_ExchangeData_GetLinearInverseSymbols.json); fees 0.02 %/0.055 % "
    "(mechanics.md §5)"
)
_OKX = (
    "OKX public instrument spec: ctVal 0.01 BTC (BTC-USDT-SWAP) and 100 USD (BTC-USD-SWAP) per "
    "mechanics.md §1.4; lot and tick 0.01/0.1 as OKX publishes them (no recording bundled: "
    "venues/okx holds only a SPOT instrument); fees 0.02 %/0.05 %"
)
_BINGX = (
    "BingX GET /openApi/swap/v2/quote/contracts (API documentation sample, "
    "venues/bingx/jkorf_PerpetualFutures_ExchangeData_GetContracts.json)"
)
_BINGX_INV = (
    "BingX GET /openApi/cswap/v1/market/contracts (recorded, ccxt fixture "
    "venues/bingx/ccxt_bingx_response_subset.json fetchInverseSwapMarkets)"
)
_MEXC = (
    "MEXC GET /api/v1/contract/detail (recorded rows, ccxt markets fixture "
    "venues/mexc/ccxt_mexc_markets_swap_subset.json @1f086143)"
)
_BYBIT_INV = (
    "Bybit inverse BTCUSD: 1 USD per contract (mechanics.md §3.1), lot 1, tick 0.5 as Bybit "
    "publishes it (no recorded instrument row); fees as Bybit linear"
)
_MEXC_INV = (
    "MEXC GET /api/v1/contract/detail contractSize and maxLeverage via "
    "venues/mexc/tradeAI_mexc_limits_fetched_derived.json (DERIVED from live data, "
    "Savelii777/tradeAI @2be4c61e); lot 1 contract; price tick not recorded (0.1 assumed)"
)
_WEEX = (
    "WEEX GET /capi/v3/market/exchangeInfo (API documentation sample, "
    "venues/weex/jkorf_Futures_ExchangeData_GetExchangeInfo.json; sizes in base coin)"
)

# exchange, symbol, market id, kind, contract size, qty step, min qty, min notional, tick,
# maker, taker, liquidation fee, funding interval h, source, as of
Row = tuple[
    str, str, str, ContractKind, float, float, float, float, float, float, float, float, float,
    str, str,
]  # fmt: skip

ROWS: tuple[Row, ...] = (
    ("bybit", "BTC/USDT:USDT", "BTCUSDT", _L, 1.0, 0.001, 0.001, 5.0, 0.1,
     0.0002, 0.00055, _LIQ, 8.0, _BYBIT, "2024-02"),
    ("okx", "BTC/USDT:USDT", "BTC-USDT-SWAP", _L, 0.01, 0.01, 0.01, 0.0, 0.1,
     0.0002, 0.0005, _LIQ, 8.0, _OKX, "2024"),
    ("okx", "BTC/USD:BTC", "BTC-USD-SWAP", _I, 100.0, 1.0, 1.0, 0.0, 0.1,
     0.0002, 0.0005, _LIQ, 8.0, _OKX, "2024"),
    ("bingx", "BTC/USDT:USDT", "BTC-USDT", _L, 1.0, 0.0001, 0.0001, 2.0, 0.1,
     0.0002, 0.0005, _LIQ, 8.0, _BINGX, "2024"),
    ("bingx", "ETH/USDT:USDT", "ETH-USDT", _L, 1.0, 0.01, 0.01, 2.0, 0.01,
     0.0002, 0.0005, _LIQ, 8.0, _BINGX, "2024"),
    ("bingx", "BTC/USD:BTC", "BTC-USD", _I, 100.0, 1.0, 1.0, 0.0, 0.1,
     0.0002, 0.0005, _LIQ, 8.0, _BINGX_INV, "2024-03"),
    ("bybit", "BTC/USD:BTC", "BTCUSD", _I, 1.0, 1.0, 1.0, 0.0, 0.5,
     0.0002, 0.00055, _LIQ, 8.0, _BYBIT_INV, "2024"),
    ("mexc", "BTC/USD:BTC", "BTC_USD", _I, 100.0, 1.0, 1.0, 0.0, 0.1,
     0.0, 0.0002, _LIQ, 8.0, _MEXC_INV, "2026-01"),
    ("mexc", "ETH/USD:ETH", "ETH_USD", _I, 10.0, 1.0, 1.0, 0.0, 0.01,
     0.0, 0.0002, _LIQ, 8.0, _MEXC_INV, "2026-01"),
    ("mexc", "BTC/USDT:USDT", "BTC_USDT", _L, 0.0001, 1.0, 1.0, 0.0, 0.1,
     0.0, 0.0002, _LIQ, 8.0, _MEXC, "2025"),
    ("mexc", "ETH/USDT:USDT", "ETH_USDT", _L, 0.01, 1.0, 1.0, 0.0, 0.01,
     0.0, 0.0002, _LIQ, 8.0, _MEXC, "2025"),
    ("mexc", "SOL/USDT:USDT", "SOL_USDT", _L, 0.1, 1.0, 1.0, 0.0, 0.001,
     0.0, 0.0002, _LIQ, 8.0, _MEXC, "2025"),
    ("weex", "BTC/USDT:USDT", "BTCUSDT", _L, 1.0, 0.0001, 0.0001, 0.0, 0.1,
     0.0, 0.001, _LIQ, 8.0, _WEEX, "2026-03"),
)  # fmt: skip

# BingX ETH-USDT brackets, recorded 2026-01-07 (ccxt fixture fetchMarketLeverageTiers, GENUINE):
# (floor, cap, MMR, maintAmount) in USDT. BingX sends no per-tier leverage; max leverage is taken
# as 1 / (2 * MMR), the rule Binance's brackets follow, capped at the contract's 125x.
_BINGX_ETH = (
    (0, 900_000, 0.0033, 0),
    (900_000, 1_200_000, 0.0056, 2_070),
    (1_200_000, 1_500_000, 0.0063, 2_910),
    (1_500_000, 1_800_000, 0.0067, 3_510),
    (1_800_000, 2_400_000, 0.0071, 4_230),
    (2_400_000, 3_200_000, 0.0077, 5_670),
    (3_200_000, 4_000_000, 0.0091, 10_150),
    (4_000_000, 5_000_000, 0.01, 13_750),
    (5_000_000, 8_000_000, 0.012, 23_750),
    (8_000_000, 12_000_000, 0.013, 31_750),
    (12_000_000, 16_000_000, 0.014, 43_750),
    (16_000_000, 22_000_000, 0.015, 59_750),
    (22_000_000, 28_000_000, 0.02, 169_750),
    (28_000_000, 32_000_000, 0.025, 309_750),
    (32_000_000, 34_000_000, 0.03, 469_750),
    (34_000_000, 36_000_000, 0.033, 571_750),
    (36_000_000, 38_000_000, 0.035, 643_750),
    (38_000_000, 40_000_000, 0.038, 757_750),
    (40_000_000, 42_000_000, 0.039, 797_750),
    (42_000_000, 44_000_000, 0.042, 923_750),
    (44_000_000, 46_000_000, 0.045, 1_055_750),
    (46_000_000, 150_000_000, 0.05, 1_285_750),
    (150_000_000, 400_000_000, 0.125, 12_535_750),
    (400_000_000, 800_000_000, 0.25, 62_535_750),
    (800_000_000, 1_200_000_000, 0.5, 262_535_750),
)

# MEXC contract/detail rows (recorded): one risk level, MMR 0.4 %, max leverage 200.
_MEXC_FLAT = {"BTC_USDT", "ETH_USDT", "SOL_USDT"}


def _bingx_eth() -> TierTable:
    tiers = tuple(
        MarginTier(float(lo), float(hi), min(125.0, float(int(1 / (2 * mmr)))), mmr, float(cum))
        for lo, hi, mmr, cum in _BINGX_ETH
    )
    return TierTable(
        tiers,
        source="BingX GET /openApi/swap/v1/maintMarginRatio ETH-USDT (recorded, ccxt fixture)",
        as_of="2026-01-07",
    )


def tiers(exchange: str, market_id: str) -> TierTable | None:
    """Recorded maintenance-margin tiers of `exchange`'s `market_id`, if bundled."""
    if (exchange, market_id) == ("bingx", "ETH-USDT"):
        return _bingx_eth()
    if exchange == "mexc" and market_id in _MEXC_FLAT:
        return TierTable(
            (MarginTier(0.0, float("inf"), 200.0, 0.004, 0.0),),
            source=f"{_MEXC}: maintenanceMarginRate 0.004, riskLevelLimit 1",
            as_of="2025",
        )
    return None
