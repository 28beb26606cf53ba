"""Turn domain values into terminal tables and JSON.

JSON: dataclasses become objects, enums their value, Decimal a float, -0.0 0.0, NaN/inf and None
`null`.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import math
from collections.abc import Iterable, Mapping, Sequence
from decimal import Decimal
from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from perphedge.units import utc_text

console = Console()
err_console = Console(stderr=True)


def jsonable(value: Any) -> Any:
    """A JSON-ready copy of `value` (see module docstring)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set | frozenset):
        return [jsonable(v) for v in value]
    return _json_scalar(value)


def _json_scalar(value: Any) -> Any:
    if isinstance(value, enum.Enum):
        value = value.value
    elif isinstance(value, Decimal):
        value = float(value)
    elif hasattr(value, "item") and callable(value.item):  # numpy scalar
        value = value.item()
    if isinstance(value, float):
        return value + 0.0 if math.isfinite(value) else None  # + 0.0: no "-0.0" in JSON
    return value


def to_json(value: Any) -> str:
    return json.dumps(jsonable(value), indent=2, allow_nan=False)


def print_json(value: Any) -> None:
    """Print `value` as JSON on stdout, without rich markup or wrapping."""
    print(to_json(value))


def fmt_num(value: float | Decimal | None, digits: int = 2) -> str:
    """1234.5 -> '1,234.50'; None -> '—'."""
    if value is None:
        return "—"
    x = float(value)
    if not math.isfinite(x):
        return "∞" if x > 0 else ("-∞" if x < 0 else "—")
    return f"{x:,.{digits}f}"


def fmt_pct(value: float | None, digits: int = 2) -> str:
    """0.1234 -> '12.34 %'; None -> '—'."""
    if value is None or not math.isfinite(value):
        return "—"
    return f"{value * 100:,.{digits}f} %"


def table(title: str, headers: Sequence[str], rows: Iterable[Sequence[object]]) -> Table:
    """A rich table; numeric-looking columns are right-aligned by the caller's formatting."""
    out = Table(title=title, title_justify="left", header_style="bold")
    for i, header in enumerate(headers):  # values fold, never cut: a narrow terminal keeps
        head = Text(header, overflow="ellipsis")  # every digit; headers may shorten
        out.add_column(head, justify="left" if i == 0 else "right", overflow="fold")
    for row in rows:
        out.add_row(*(str(cell) for cell in row))
    return out


def key_value_table(title: str, rows: Iterable[tuple[str, str]]) -> Table:
    out = Table(title=title, title_justify="left", show_header=False)
    out.add_column("field", style="bold", overflow="fold")
    out.add_column("value", justify="right", overflow="fold")
    for key, value in rows:
        out.add_row(key, value)
    return out


def iso_time(ts_ms: int) -> str:
    """'2026-06-29T00:00:00Z' for an epoch-ms time (UTC)."""

    return utc_text(ts_ms, "%Y-%m-%dT%H:%M:%SZ")


def fmt_rate(rate_per_interval: float, interval_hours: float) -> str:
    """A funding rate as every command prints it: '+0.0100%/8h' (positive: the short earns)."""
    return f"{rate_per_interval:+.4%}/{interval_hours:g}h"


def currency_digits(currency: str) -> int:
    """Decimals to show an amount with: 2 for USD stablecoins, 8 for coins."""
    return 2 if currency in ("USDT", "USDC", "USD") else 8
