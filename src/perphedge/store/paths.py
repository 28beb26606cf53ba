"""Where perphedge keeps its files: `PERPHEDGE_HOME`, else the user's data directory."""

from __future__ import annotations

import os
from pathlib import Path

import platformdirs

from perphedge.errors import InputError

HOME_ENV = "PERPHEDGE_HOME"
MARKET_STORE_FILE = "market.duckdb"


def home_dir() -> Path:
    """The perphedge data directory: $PERPHEDGE_HOME if set, else platformdirs' user data dir."""
    env = os.environ.get(HOME_ENV, "").strip()
    if env:
        path = Path(env).expanduser()
        if path.exists() and not path.is_dir():
            raise InputError(HOME_ENV, env, "it is a file: point it at a folder")
        return path
    return Path(platformdirs.user_data_dir("perphedge", appauthor=False))


def market_store_path(option: str | Path | None = None) -> Path:
    """The market-data store file: `option` if given, else <home>/market.duckdb."""
    path = home_dir() / MARKET_STORE_FILE
    if option is not None and str(option).strip():
        path = Path(option).expanduser()
    if path.is_dir():
        raise InputError("--store", str(path), "it is a folder: name a .duckdb file")
    return path
