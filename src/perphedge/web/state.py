"""What one launch of the page works on: the current portfolio, its file, and the adapters.

`Adapters` is what the page needs of the composition root (`perphedge ui` passes the CLI's
`perphedge.cli.wiring.Adapters`; tests pass the same or fakes): one factory per port.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from perphedge.config import PortfolioConfig, load_portfolio
from perphedge.instruments import ContractKind
from perphedge.ports import Clock, History, MarketData, MarketHistory


class Adapters(Protocol):
    """The ports the pages' services take, as factories."""

    @property
    def history(self) -> Callable[[], History]: ...

    @property
    def market_history(self) -> Callable[[Path | None], MarketHistory]: ...

    @property
    def live_market(self) -> Callable[[str, ContractKind], MarketData]: ...

    @property
    def clock(self) -> Clock: ...


@dataclass
class Workspace:
    """The portfolio the pages show (None until the Start form or a file gives one)."""

    document: dict[str, Any] | None = None
    config: PortfolioConfig | None = None
    path: Path | None = None
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def use(self, document: dict[str, Any], config: PortfolioConfig) -> None:
        with self._lock:
            self.document = document
            self.config = config

    def load(self, path: Path) -> PortfolioConfig:
        """Read a portfolio file (InputError when it is missing or invalid) and use it."""
        import tomllib

        config = load_portfolio(path)
        document = tomllib.loads(path.read_text(encoding="utf-8"))
        with self._lock:
            self.document, self.config, self.path = document, config, path
        return config
