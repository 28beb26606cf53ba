"""Bundled maintenance-margin tier tables, with their source and date.

Exchanges change brackets often: live commands fetch them; these are for offline use and tests.
Rows: (floor, cap, max leverage, MMR, cum), notional in USDT.
"""

from __future__ import annotations

from perphedge.errors import InputError
from perphedge.instruments import MarginTier, TierTable

_FREQTRADE_2024 = (
    "Binance GET /fapi/v1/leverageBracket via freqtrade binance_leverage_tiers.json "
    "@3d9514d2660c42dfdbde517f7b421d1a5cf4f196"
)
_FREQTRADE_2021 = "freqtrade tests/conftest.py leverage_tiers @c9ae5e1 (Binance FAQ era)"

_ROWS: dict[str, tuple[str, str, tuple[tuple[float, float, float, float, float], ...]]] = {
    "binance:BTCUSDT": (
        _FREQTRADE_2024,
        "2024-10-24",
        (
            (0, 50_000, 125, 0.004, 0),
            (50_000, 600_000, 100, 0.005, 50),
            (600_000, 3_000_000, 75, 0.0065, 950),
            (3_000_000, 12_000_000, 50, 0.01, 11_450),
            (12_000_000, 70_000_000, 25, 0.02, 131_450),
            (70_000_000, 100_000_000, 20, 0.025, 481_450),
            (100_000_000, 230_000_000, 10, 0.05, 2_981_450),
            (230_000_000, 480_000_000, 5, 0.10, 14_481_450),
            (480_000_000, 600_000_000, 4, 0.125, 26_481_450),
            (600_000_000, 800_000_000, 3, 0.15, 41_481_450),
            (800_000_000, 1_200_000_000, 2, 0.25, 121_481_450),
            (1_200_000_000, 1_800_000_000, 1, 0.50, 421_481_450),
        ),
    ),
    "binance:ETHUSDT": (
        _FREQTRADE_2024,
        "2024-10-24",
        (
            (0, 50_000, 125, 0.004, 0),
            (50_000, 600_000, 100, 0.005, 50),
            (600_000, 3_000_000, 75, 0.0065, 950),
            (3_000_000, 12_000_000, 50, 0.01, 11_450),
            (12_000_000, 50_000_000, 25, 0.02, 131_450),
            (50_000_000, 65_000_000, 20, 0.025, 381_450),
            (65_000_000, 150_000_000, 10, 0.05, 2_006_450),
            (150_000_000, 320_000_000, 5, 0.10, 9_506_450),
            (320_000_000, 400_000_000, 4, 0.125, 17_506_450),
            (400_000_000, 530_000_000, 3, 0.15, 27_506_450),
            (530_000_000, 800_000_000, 2, 0.25, 80_506_450),
            (800_000_000, 1_200_000_000, 1, 0.50, 280_506_450),
        ),
    ),
    "binance-2021:BTCUSDT": (
        _FREQTRADE_2021,
        "2021",
        (
            (0, 50_000, 125, 0.004, 0),
            (50_000, 250_000, 100, 0.005, 50),
            (250_000, 1_000_000, 50, 0.01, 1_300),
            (1_000_000, 7_500_000, 20, 0.025, 16_300),
            (7_500_000, 40_000_000, 10, 0.05, 203_800),
            (40_000_000, 100_000_000, 5, 0.10, 2_203_800),
            (100_000_000, 200_000_000, 4, 0.125, 4_703_800),
            (200_000_000, 400_000_000, 3, 0.15, 9_703_800),
            (400_000_000, 600_000_000, 2, 0.25, 49_703_800),
            (600_000_000, 1_000_000_000, 1, 0.50, 199_703_800),
        ),
    ),
}


def names() -> list[str]:
    """Names of the bundled tables, e.g. 'binance:BTCUSDT'."""
    return sorted(_ROWS)


def bundled(name: str) -> TierTable:
    """The bundled table `name` ('exchange:SYMBOL'); InputError naming the choices otherwise."""
    key = name.strip()
    match = next((k for k in _ROWS if k.lower() == key.lower()), None)
    if match is None:
        raise InputError("tiers", name, f"use one of {', '.join(names())}")
    source, as_of, rows = _ROWS[match]
    tiers = tuple(
        MarginTier(float(f), float(c), float(lev), mmr, float(cum)) for f, c, lev, mmr, cum in rows
    )
    return TierTable(tiers, source=source, as_of=as_of)


def for_symbol(exchange: str, market_id: str) -> TierTable | None:
    """The bundled table of `exchange`'s `market_id` (e.g. binance, BTCUSDT), if any."""
    key = f"{exchange}:{market_id}".lower()
    match = next((k for k in _ROWS if k.lower() == key), None)
    return bundled(match) if match else None
