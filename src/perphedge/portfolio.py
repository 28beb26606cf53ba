"""Holdings, portfolios, valuation and exposure (pure).

A holding is spot coins someone owns (anywhere: an exchange wallet, a hardware wallet...). Its
exposure is its value in USD at a price; the portfolio's exposure is the sum over holdings,
whatever their location (the location is informational). Prices are USD per coin, supplied by
the caller (file, store or exchange): this module reads nothing.

Per-holding hedge overrides: `ratio` (fraction of the value to hedge, overriding the portfolio
ratio) and `proxy` + `beta` (hedge with another coin's perpetual, notional x ratio x beta).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

from perphedge.errors import DataError, InputError, require_fraction, require_positive

_ASSET = re.compile(r"^[A-Z0-9]{1,15}$")


def normalise_asset(field: str, text: str) -> str:
    """'btc ' -> 'BTC'; InputError unless it is 1-15 letters/digits."""
    asset = text.strip().upper()
    if not _ASSET.match(asset):
        raise InputError(field, text, "give a coin ticker such as BTC (letters and digits)")
    return asset


# Far above any real holding or price, far below where float arithmetic overflows (1e308 would
# become contracts=inf deep inside the plan instead of a message about the file).
MAX_QUANTITY = 1e12
MAX_PRICE_USD = 1e12


@dataclass(frozen=True)
class Holding:
    """Spot coins held. `qty_base` in coins; `price` in USD per coin when known."""

    asset: str
    qty_base: float
    price: float | None = None
    ratio: float | None = None
    proxy: str | None = None
    beta: float | None = None
    location: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "asset", normalise_asset("asset", self.asset))
        require_positive("quantity", self.qty_base)
        if self.qty_base > MAX_QUANTITY:
            raise InputError("quantity", self.qty_base, f"give at most {MAX_QUANTITY:g} coins")
        if self.price is not None:
            require_positive("price", self.price)
            if self.price > MAX_PRICE_USD:
                raise InputError(
                    "price", self.price, f"give a USD price of at most {MAX_PRICE_USD:g}"
                )
        if self.ratio is not None:
            require_fraction("ratio", self.ratio)
        if self.proxy is not None:
            proxy = normalise_asset("proxy", self.proxy)
            if proxy == self.asset:
                raise InputError("proxy", self.proxy, "a proxy is another coin; remove it")
            object.__setattr__(self, "proxy", proxy)
        if self.beta is not None:
            require_positive("beta", self.beta)
            if self.beta > 10:
                raise InputError("beta", self.beta, "give a beta between 0 and 10")
            if self.proxy is None:
                raise InputError("beta", self.beta, 'a beta needs a proxy; add proxy = "BTC"')

    @property
    def hedge_asset(self) -> str:
        """The coin whose perpetual hedges this holding (itself or its proxy)."""
        return self.proxy or self.asset


@dataclass(frozen=True)
class Portfolio:
    """Holdings in file order; the same coin may appear several times (different locations)."""

    holdings: tuple[Holding, ...]

    def __post_init__(self) -> None:
        if not self.holdings:
            raise InputError("holdings", "[]", "add at least one [[holdings]] entry")

    def assets(self) -> list[str]:
        """Distinct held coins, in first-seen order."""
        return list(dict.fromkeys(h.asset for h in self.holdings))

    def given_prices(self) -> dict[str, float]:
        """Prices written in the file, by coin (the first one given wins)."""
        prices: dict[str, float] = {}
        for holding in self.holdings:
            if holding.price is not None:
                prices.setdefault(holding.asset, holding.price)
        return prices


@dataclass(frozen=True)
class Valuation:
    """One holding valued at `price` (USD per coin)."""

    asset: str
    qty_base: float
    price: float
    value_usd: float
    location: str | None


def value_holding(holding: Holding, prices: Mapping[str, float]) -> Valuation:
    """Value at the holding's own price, else `prices[asset]`; DataError when neither exists."""
    price = holding.price if holding.price is not None else prices.get(holding.asset)
    if price is None or not math.isfinite(price) or price <= 0:
        raise DataError(
            f"no price for {holding.asset}: add price = ... to the holding "
            "or run perphedge data sync"
        )
    return Valuation(
        holding.asset, holding.qty_base, price, holding.qty_base * price, holding.location
    )


def valuation(portfolio: Portfolio, prices: Mapping[str, float]) -> tuple[Valuation, ...]:
    """Every holding valued; a coin priced in one holding prices its other holdings too."""
    merged = {**prices, **portfolio.given_prices()}
    return tuple(value_holding(h, merged) for h in portfolio.holdings)


def exposure_usd(portfolio: Portfolio, prices: Mapping[str, float]) -> float:
    """Total long exposure in USD: the sum of the holdings' values, wherever they are held."""
    return math.fsum(v.value_usd for v in valuation(portfolio, prices))
