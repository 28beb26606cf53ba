"""Account service: the ports a hedge, monitor or keep command works on, and what to say first.

`open_account` checks that the venue can do what the command needs (CapabilityError naming the
gap) and opens the paper account (created on first use from the plan:
`perphedge.services.hedge_run.open_paper`), the paper account on live prices, or the venue's ccxt
adapters. Capabilities ccxt claims without a recorded proof come back as warnings, and the paper
account's marks at simulated now as `marks`, for the entry point to print.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from perphedge.config import PortfolioConfig
from perphedge.errors import CapabilityError, InputError
from perphedge.exchanges.capabilities import require_for, unverified_notes
from perphedge.instruments import ContractKind
from perphedge.live.session import Ports, live_ports, paper_live_ports, paper_ports
from perphedge.ports import Clock, History
from perphedge.services.hedge_run import open_paper
from perphedge.services.paper import PaperMarks, paper_marks
from perphedge.services.targets import hedge_symbols
from perphedge.venues.registry import venue


@dataclass(frozen=True)
class AccountRequest:
    """Which account: the file's venue or `exchange`, paper or real, for `command`."""

    exchange: str | None = None
    paper: bool = False
    base_url: str | None = None  # tests: a local fake exchange
    command: str = "hedge"
    live_prices: bool = False


@dataclass(frozen=True)
class OpenedAccount:
    """The ports, warnings about unverified capabilities, and a replayed paper account's marks."""

    ports: Ports
    warnings: tuple[str, ...]
    marks: PaperMarks | None

    @property
    def name(self) -> str:
        """How the account is named to people: "paper:binance" or "binance"."""
        return f"paper:{self.ports.exchange}" if self.ports.paper else self.ports.exchange


def open_account(
    config: PortfolioConfig, request: AccountRequest, home: Path, history: History, clock: Clock
) -> OpenedAccount:
    """The account `request` names for `config` (see the module docstring)."""
    name = venue(request.exchange or config.hedge.exchange).name
    inverse = config.hedge.kind is ContractKind.INVERSE
    unverified = require_for(request.command, name, coin_margined=inverse, live=not request.paper)
    warnings = unverified_notes(name, unverified)
    if request.paper and request.live_prices:
        if inverse:
            raise CapabilityError(
                "--live-prices simulates USDT-margined contracts only; use --paper alone for "
                "coin-margined ones"
            )
        return OpenedAccount(paper_live_ports(name, home, request.base_url), warnings, None)
    if request.paper:
        ports = open_paper(config, home, history, clock, name)
        return OpenedAccount(ports, warnings, paper_marks(ports, hedge_symbols(config)))
    return OpenedAccount(live_ports(name, request.base_url, config.hedge.contract), warnings, None)


def open_venue_account(
    exchange: str | None, paper: bool, home: Path, base_url: str | None
) -> Ports:
    """An account without a portfolio file: the venue must be named."""
    if exchange is None:
        raise InputError("--exchange", None, "name the venue when no portfolio file is given")
    name = venue(exchange).name
    return paper_ports(name, home, []) if paper else live_ports(name, base_url)
