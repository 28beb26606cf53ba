"""DEVELOPMENT STAND-IN, NOT TO LAND: replaced by perphedge.services calls."""

from __future__ import annotations

from dataclasses import dataclass

from perphedge.config import PortfolioConfig
from perphedge.hedge import HedgePlan


@dataclass(frozen=True)
class Planned:
    plan: HedgePlan
    notes: tuple[str, ...]


def plan(config: PortfolioConfig) -> Planned:
    from perphedge.cli.plan import make_plan

    found, notes = make_plan(config)
    return Planned(found, notes)
