"""Where perphedge keeps its files: `PERPHEDGE_HOME`, else the user's data directory."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

HOME_ENV = "PERPHEDGE_HOME"
MARKET_STORE_FILE = "market.duckdb"


def home_dir() -> Path:
    """The perphedge data directory: $PERPHEDGE_HOME if set, else platformdirs' user data dir."""
    env = os.environ.get(HOME_ENV, "").strip()
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_data_dir("perphedge", appauthor=False))


def market_store_path(option: str | Path | None = None) -> Path:
    """The market-data store file: `option` if given, else <home>/market.duckdb."""
    if option is not None and str(option).strip():
        return Path(option).expanduser()
    return home_dir() / MARKET_STORE_FILE
