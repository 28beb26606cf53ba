"""ccxt unified symbols: the perpetual of a coin, and what a user may write for a market (pure).

Symbols may be written "BTC" (every linear perpetual on BTC: USDT, USDC or USD settled),
"BTCUSDT" (BTC/USDT:USDT) or a ccxt unified symbol ("BTC/USDT:USDT", "BTC/USD:BTC", "BTC/USDT").
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from perphedge.errors import InputError
from perphedge.instruments import ContractKind

QUOTES = ("USDT", "USDC", "FDUSD", "BUSD", "USD")
PRICE_KINDS = ("spot", "perp", "mark")  # stored candle kinds: spot, perpetual last, mark


def perp_symbol(asset: str, kind: ContractKind = ContractKind.LINEAR) -> str:
    """`asset`'s USDT-margined (linear) or coin-margined (inverse) perpetual: BTC/USDT:USDT."""
    return f"{asset}/USDT:USDT" if kind is ContractKind.LINEAR else f"{asset}/USD:{asset}"


def spot_symbol(asset: str) -> str:
    """`asset`'s USDT spot market: BTC/USDT."""
    return f"{asset}/USDT"


@dataclass(frozen=True)
class SymbolPattern:
    """What the user asked for: a base coin and, when given, the exact ccxt symbol."""

    text: str
    base: str
    exact: str | None  # None: every linear perpetual on `base`

    def matches(self, symbol: str) -> bool:
        if self.exact is not None:
            return symbol == self.exact
        base, _, rest = symbol.partition("/")
        quote, _, settle = rest.partition(":")
        return base == self.base and settle == quote and quote in QUOTES


def symbol_pattern(text: str) -> SymbolPattern:
    """Parse "BTC", "BTCUSDT" or "BTC/USDT:USDT"; InputError for anything else."""
    raw = text.strip().upper()
    if re.fullmatch(r"[A-Z0-9]+/[A-Z0-9]+(:[A-Z0-9]+)?", raw):
        return SymbolPattern(text, raw.partition("/")[0], raw)
    for quote in QUOTES:
        if raw.endswith(quote) and len(raw) > len(quote) and raw.isalnum():
            base = raw[: -len(quote)]
            return SymbolPattern(text, base, f"{base}/{quote}:{quote}")
    if re.fullmatch(r"[A-Z0-9]{1,15}", raw):
        return SymbolPattern(text, raw, None)
    raise InputError("SYMBOL", text, "write BTC, BTCUSDT or BTC/USDT:USDT")


def market_symbol(text: str, kind: str) -> str:
    """ccxt symbol of `text` for a price kind: spot "ETH/USDT", perp or mark "ETH/USDT:USDT"."""
    pattern = symbol_pattern(text)
    if pattern.exact is None:
        return spot_symbol(pattern.base) if kind == "spot" else perp_symbol(pattern.base)
    if kind == "spot":
        return pattern.exact.partition(":")[0]
    if ":" not in pattern.exact:
        quote = pattern.exact.partition("/")[2]
        return f"{pattern.exact}:{quote}"
    return pattern.exact
