"""Test factories: portfolio files written from Python values instead of hand-written TOML."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any


def _value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return f'"{value}"'
    return repr(value)


def portfolio_text(holdings: Sequence[Mapping[str, Any]], **hedge: Any) -> str:
    """TOML of a portfolio: one [[holdings]] table per mapping, and [hedge] from `hedge`.

    portfolio_text([{"asset": "BTC", "quantity": 0.5}], leverage=5)"""
    lines: list[str] = []
    for holding in holdings:
        lines.append("[[holdings]]")
        lines += [f"{key} = {_value(value)}" for key, value in holding.items()]
    if hedge:
        lines.append("[hedge]")
        lines += [f"{key} = {_value(value)}" for key, value in hedge.items()]
    return "\n".join(lines) + "\n"


def portfolio_file(
    folder: Path, holdings: Sequence[Mapping[str, Any]], name: str = "portfolio.toml", **hedge: Any
) -> Path:
    """`portfolio_text` written to `folder`/`name`; returns the path."""
    path = folder / name
    path.write_text(portfolio_text(holdings, **hedge), encoding="utf-8")
    return path
