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


def _table(name: str, values: Mapping[str, Any]) -> list[str]:
    return [f"[{name}]", *(f"{key} = {_value(value)}" for key, value in values.items())]


def portfolio_text(
    holdings: Sequence[Mapping[str, Any]], *, keeper: Mapping[str, Any] | None = None, **hedge: Any
) -> str:
    """TOML of a portfolio: one [[holdings]] table per mapping, [hedge] from `hedge` and
    [keeper] from `keeper` (each left out when empty).

    portfolio_text([{"asset": "BTC", "quantity": 0.5}], leverage=5, margin_mode="cross")"""
    lines: list[str] = []
    for holding in holdings:
        lines += _table("[holdings]", holding)
    if hedge:
        lines += _table("hedge", hedge)
    if keeper:
        lines += _table("keeper", keeper)
    return "\n".join(lines) + "\n"


def portfolio_file(
    folder: Path,
    holdings: Sequence[Mapping[str, Any]],
    name: str = "portfolio.toml",
    *,
    keeper: Mapping[str, Any] | None = None,
    **hedge: Any,
) -> Path:
    """`portfolio_text` written to `folder`/`name`; returns the path."""
    path = folder / name
    path.write_text(portfolio_text(holdings, keeper=keeper, **hedge), encoding="utf-8")
    return path
