"""Build a ccxt exchange for a perphedge venue: rate limiter on, credentials from env or keyring.

    exchange = make_exchange("binance")                      # USDⓈ-M perpetuals (binanceusdm)
    exchange = make_exchange("binance", market="inverse")    # COIN-M (binancecoinm)
    exchange = make_exchange("binance", market="spot")       # spot klines (binance)
    exchange = make_exchange("bybit", base_url="http://127.0.0.1:8123")   # tests: local server

Credentials (optional; public market data needs none) come from the environment
PERPHEDGE_<VENUE>_API_KEY, _SECRET and _PASSWORD (OKX calls it passphrase), else from the system
keyring (service "perphedge", usernames "<venue>:api_key", "<venue>:secret", "<venue>:password").
They are never printed or logged: `Credentials` hides them from repr.

`base_url` sends every REST group of the unmodified ccxt client to another host, keeping each
endpoint's path, so that tests can serve recorded responses from 127.0.0.1.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any, Literal
from urllib.parse import urlsplit

import ccxt

from perphedge.errors import CapabilityError
from perphedge.venues.registry import venue as find_venue

MarketType = Literal["linear", "inverse", "spot"]
KEYRING_SERVICE = "perphedge"
DEFAULT_TIMEOUT_MS = 15_000

# ccxt ids for spot markets where the swap client cannot see them (others use the swap id).
SPOT_CCXT_IDS = {"binance": "binance"}


@dataclass(frozen=True)
class Credentials:
    """API credentials; the secret parts never appear in repr or logs."""

    api_key: str = field(repr=False)
    secret: str = field(repr=False)
    password: str = field(default="", repr=False)

    def ccxt_config(self) -> dict[str, str]:
        config = {"apiKey": self.api_key, "secret": self.secret}
        if self.password:
            config["password"] = self.password
        return config


def credentials_for(venue_name: str, use_keyring: bool = True) -> Credentials | None:
    """Credentials of `venue_name` from the environment, else the keyring, else None."""
    prefix = f"PERPHEDGE_{venue_name.upper()}_"
    key = os.environ.get(prefix + "API_KEY", "")
    secret = os.environ.get(prefix + "SECRET", "")
    password = os.environ.get(prefix + "PASSWORD", "")
    if key and secret:
        return Credentials(key, secret, password)
    if not use_keyring:
        return None
    return _from_keyring(venue_name)


def _from_keyring(venue_name: str) -> Credentials | None:
    try:
        import keyring

        key = keyring.get_password(KEYRING_SERVICE, f"{venue_name}:api_key")
        secret = keyring.get_password(KEYRING_SERVICE, f"{venue_name}:secret")
        password = keyring.get_password(KEYRING_SERVICE, f"{venue_name}:password")
    except Exception:  # no keyring backend on this machine: behave as "no credentials"
        return None
    if key and secret:
        return Credentials(key, secret, password or "")
    return None


def ccxt_id(venue_name: str, market: MarketType = "linear") -> str:
    """The ccxt exchange id serving `market` on `venue_name`; CapabilityError if none does."""
    v = find_venue(venue_name)
    if market == "spot":
        found: str | None = SPOT_CCXT_IDS.get(v.name, v.ccxt_linear)
    else:
        found = v.ccxt_linear if market == "linear" else v.ccxt_inverse
    if found is None or not hasattr(ccxt, found):
        raise CapabilityError(
            f"{v.name} offers no {market} markets through ccxt; pick another venue"
        )
    return found


def make_exchange(
    venue_name: str,
    market: MarketType = "linear",
    *,
    credentials: Credentials | None = None,
    base_url: str | None = None,
    timeout_ms: int = DEFAULT_TIMEOUT_MS,
    use_keyring: bool = True,
) -> Any:
    """A ccxt exchange for `venue_name` and `market`, with ccxt's rate limiter enabled."""
    exchange_id = ccxt_id(venue_name, market)
    creds = credentials or credentials_for(find_venue(venue_name).name, use_keyring)
    config: dict[str, Any] = {"enableRateLimit": True, "timeout": timeout_ms}
    if creds is not None:
        config.update(creds.ccxt_config())
    default_type = {"linear": "swap", "inverse": "swap", "spot": "spot"}[market]
    # currencies need private endpoints on some venues and are not market data: skip them
    config["options"] = {"defaultType": default_type, "fetchCurrencies": False}
    if exchange_id == "binance" and market == "spot":
        config["options"]["fetchMarkets"] = ["spot"]
    exchange = getattr(ccxt, exchange_id)(config)
    if base_url:
        point_at(exchange, base_url)
    return exchange


def point_at(exchange: Any, base_url: str) -> None:
    """Send every REST URL of `exchange` to `base_url`, keeping each URL's path."""
    base = base_url.rstrip("/")

    def rewrite(node: Any) -> Any:
        if isinstance(node, str):
            return base + urlsplit(node.replace("{hostname}", "host")).path
        if isinstance(node, dict):
            return {k: rewrite(v) for k, v in node.items()}
        return node

    exchange.urls["api"] = rewrite(exchange.urls["api"])
