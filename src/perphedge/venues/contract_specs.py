"""Bundled perpetual contract specs, with their source and date (pure data, like tier_tables).

Exchanges change steps, minimums and fees: live commands fetch them through the MarketData port;
these rows are for offline planning and tests. One row per contract:

    exchange, ccxt unified symbol, exchange market id, kind, contract size
    (base coin per contract for linear, USD per contract for inverse), quantity step and minimum
    (contracts), minimum notional (quote currency; 0 = none published), price tick, maker and
    taker fee (regular tier), liquidation clearance fee, funding interval (hours), source, as of.

Maintenance-margin tiers come from `perphedge.venues.tier_tables` when it has the contract; otherwise
from `_EXTRA_TIERS` below (coin-denominated brackets of Binance COIN-M BTCUSD), or, where no
table is bundled, a conservative flat 1 % rate whose source says "assumed" (the plan prints it).
"""

from __future__ import annotations

from dataclasses import dataclass

from perphedge.errors import InputError
from perphedge.instruments import ContractKind, MarginTier, Perpetual, TierTable
from perphedge.venues import other_venue_specs as venue_rows
from perphedge.venues import tier_tables

_BINANCE_FILTERS = (
    "Binance GET /fapi/v1/exchangeInfo filters (LOT_SIZE, PRICE_FILTER, MIN_NOTIONAL)"
)
_BINANCE_COINM = "Binance GET /dapi/v1/exchangeInfo (contractSize, LOT_SIZE, PRICE_FILTER)"
# XRP, DOGE and BNB: no recorded exchangeInfo is bundled. Step, minimum quantity and minimum
# notional of XRPUSDT (0.1 / 0.1 / 5) and DOGEUSDT (1 / 1 / 5) match a public test fixture of
# Binance USDⓈ-M filters; the ticks and every BNBUSDT figure are as Binance listed them and are
# flagged "assumed" (plan --live reads the exchange's own).
_BINANCE_ASSUMED = (
    "assumed: Binance USDⓈ-M LOT_SIZE/PRICE_FILTER/MIN_NOTIONAL as listed, no recorded response "
    "bundled (plan --live reads them)"
)
_BINANCE_FEES = (
    "Binance USDⓈ-M/COIN-M regular-tier fees maker 0.02 % / taker 0.05 % (FAQ 360033544231)"
)


@dataclass(frozen=True)
class InstrumentRow:
    """One bundled contract spec; numbers as the exchange publishes them."""

    exchange: str
    symbol: str  # ccxt unified symbol
    market_id: str  # exchange's own id, e.g. BTCUSDT, BTCUSD_PERP
    kind: ContractKind
    contract_size: float
    qty_step: float
    min_qty: float
    min_notional: float
    price_tick: float
    maker_fee: float
    taker_fee: float
    liquidation_fee: float
    funding_interval_hours: float
    source: str
    as_of: str

    @property
    def base(self) -> str:
        return self.symbol.split("/")[0]

    @property
    def quote(self) -> str:
        return self.symbol.split("/")[1].split(":")[0]

    @property
    def settle(self) -> str:
        return self.symbol.split(":")[1]


_L = ContractKind.LINEAR
_I = ContractKind.INVERSE

ROWS: tuple[InstrumentRow, ...] = (
    InstrumentRow(
        "binance", "BTC/USDT:USDT", "BTCUSDT", _L, 1.0, 0.001, 0.001, 100.0, 0.1,
        0.0002, 0.0005, 0.0125, 8.0, f"{_BINANCE_FILTERS}; {_BINANCE_FEES}", "2024",
    ),
    InstrumentRow(
        "binance", "ETH/USDT:USDT", "ETHUSDT", _L, 1.0, 0.001, 0.001, 20.0, 0.01,
        0.0002, 0.0005, 0.0125, 8.0, f"{_BINANCE_FILTERS}; {_BINANCE_FEES}", "2024",
    ),
    InstrumentRow(
        "binance", "SOL/USDT:USDT", "SOLUSDT", _L, 1.0, 1.0, 1.0, 5.0, 0.01,
        0.0002, 0.0005, 0.0125, 8.0, f"{_BINANCE_FILTERS}; {_BINANCE_FEES}", "2024",
    ),
    InstrumentRow(
        "binance", "XRP/USDT:USDT", "XRPUSDT", _L, 1.0, 0.1, 0.1, 5.0, 0.0001,
        0.0002, 0.0005, 0.0125, 8.0, f"{_BINANCE_ASSUMED}; {_BINANCE_FEES}", "2025",
    ),
    InstrumentRow(
        "binance", "DOGE/USDT:USDT", "DOGEUSDT", _L, 1.0, 1.0, 1.0, 5.0, 0.00001,
        0.0002, 0.0005, 0.0125, 8.0, f"{_BINANCE_ASSUMED}; {_BINANCE_FEES}", "2025",
    ),
    InstrumentRow(
        "binance", "BNB/USDT:USDT", "BNBUSDT", _L, 1.0, 0.01, 0.01, 5.0, 0.01,
        0.0002, 0.0005, 0.0125, 8.0, f"{_BINANCE_ASSUMED}; {_BINANCE_FEES}", "2025",
    ),
    InstrumentRow(
        "binance", "BTC/USD:BTC", "BTCUSD_PERP", _I, 100.0, 1.0, 1.0, 0.0, 0.1,
        0.0002, 0.0005, 0.01, 8.0, f"{_BINANCE_COINM}; {_BINANCE_FEES}", "2024",
    ),
    InstrumentRow(
        "binance", "ETH/USD:ETH", "ETHUSD_PERP", _I, 10.0, 1.0, 1.0, 0.0, 0.01,
        0.0002, 0.0005, 0.01, 8.0, f"{_BINANCE_COINM}; {_BINANCE_FEES}", "2024",
    ),
    *(InstrumentRow(*row) for row in venue_rows.ROWS),
)  # fmt: skip

# Binance COIN-M BTCUSD brackets in BTC: (floor, MMR) as ccxt's test fixture records them
# (ccxt/ccxt ts/src/test/static/response/binance.json @05776890, options.leverageBrackets
# "BTC/USD:BTC"). Max leverage is not in that record: Binance's brackets all follow
# max leverage = 1 / (2 * MMR) (125x at 0.4 %, 100x at 0.5 %, ... 1x at 50 %, as the bundled
# USDⓈ-M tables show), so it is derived that way here.
_COINM_BTC_FLOORS = (
    (0.0, 0.004),
    (5.0, 0.005),
    (10.0, 0.01),
    (20.0, 0.025),
    (50.0, 0.05),
    (100.0, 0.1),
    (200.0, 0.125),
    (400.0, 0.15),
    (1000.0, 0.25),
    (1500.0, 0.5),
)
_ASSUMED_MMR = 0.01
_ASSUMED_MAX_LEVERAGE = 20.0


def _coinm_btc_tiers() -> TierTable:
    floors = [f for f, _ in _COINM_BTC_FLOORS]
    caps = [*floors[1:], float("inf")]
    rows = [
        (floor, cap, float(int(1 / (2 * mmr))), mmr)
        for (floor, mmr), cap in zip(_COINM_BTC_FLOORS, caps, strict=True)
    ]
    return TierTable.from_rates(
        rows, source="ccxt fixture binance.json @05776890 (BTC/USD:BTC brackets)", as_of="2024"
    )


def _assumed_tiers() -> TierTable:
    tier = MarginTier(0.0, float("inf"), _ASSUMED_MAX_LEVERAGE, _ASSUMED_MMR, 0.0)
    return TierTable(
        (tier,),
        source=f"assumed: no bundled table, flat {_ASSUMED_MMR:.0%} MMR (check live tiers)",
    )


def assumed_tiers() -> TierTable:
    """The conservative flat table used where no tiers are bundled or published."""
    return _assumed_tiers()


def _tiers(row: InstrumentRow) -> TierTable:
    bundled = tier_tables.for_symbol(row.exchange, row.market_id)
    if bundled is not None:
        return bundled
    recorded = venue_rows.tiers(row.exchange, row.market_id)
    if recorded is not None:
        return recorded
    if (row.exchange, row.symbol) == ("binance", "BTC/USD:BTC"):
        return _coinm_btc_tiers()
    return _assumed_tiers()


def to_perpetual(row: InstrumentRow) -> Perpetual:
    """The domain contract spec of one bundled row, with its tiers."""
    return Perpetual(
        symbol=row.symbol,
        base=row.base,
        quote=row.quote,
        settle=row.settle,
        kind=row.kind,
        contract_size=row.contract_size,
        qty_step=row.qty_step,
        price_tick=row.price_tick,
        min_qty=row.min_qty,
        min_notional=row.min_notional,
        funding_interval_hours=row.funding_interval_hours,
        tiers=_tiers(row),
        maker_fee=row.maker_fee,
        taker_fee=row.taker_fee,
        liquidation_fee=row.liquidation_fee,
        exchange=row.exchange,
    )


def exchanges() -> list[str]:
    """Exchanges with at least one bundled contract."""
    return sorted({row.exchange for row in ROWS})


def symbols(exchange: str) -> list[str]:
    """ccxt symbols bundled for `exchange`."""
    return sorted(row.symbol for row in ROWS if row.exchange == exchange.strip().lower())


def by_symbol(exchange: str, symbol: str) -> Perpetual:
    """The bundled contract `symbol` on `exchange`; InputError naming the choices otherwise."""
    name = exchange.strip().lower()
    for row in ROWS:
        if row.exchange == name and row.symbol.lower() == symbol.strip().lower():
            return to_perpetual(row)
    known = ", ".join(symbols(name)) or "none"
    raise InputError("symbol", symbol, f"bundled contracts on {name}: {known}")


def find(exchange: str, base: str, kind: ContractKind) -> Perpetual | None:
    """The bundled perpetual of `base` on `exchange` of `kind` (linear: USDT-margined first)."""
    name = exchange.strip().lower()
    matches = [
        row
        for row in ROWS
        if row.exchange == name and row.kind is kind and row.base.upper() == base.strip().upper()
    ]
    matches.sort(key=lambda row: (row.quote != "USDT", row.symbol))
    return to_perpetual(matches[0]) if matches else None
