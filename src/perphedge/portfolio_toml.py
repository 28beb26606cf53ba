"""The portfolio file written out: the questions that build it, and commented TOML.

`perphedge init` asks these questions in the terminal and the page's Start form shows them as
fields; both validate the answers with `perphedge.config.portfolio_from_dict` (the rules that read
a file) and write the file with `portfolio_toml`, each key under a comment that explains it.
Sections of the file beyond [[holdings]] and [hedge] (such as [keeper]) are found in the
`perphedge.config.PortfolioFile` model, so a new section gets its fields and defaults here without
a second list to keep in step.

Pure: text in, text out; nothing is read or written here.
"""

from __future__ import annotations

import json
import math
import textwrap
import typing
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from perphedge.config import PortfolioFile


@dataclass(frozen=True)
class Question:
    """One key of the file: its label, one sentence of help, its default and allowed values."""

    key: str
    label: str
    help: str
    default: object = None  # None: optional, left out of the file when not answered
    choices: tuple[str, ...] = ()
    number: bool = False


HOLDING_QUESTIONS = (
    Question("asset", "Coin", "The coin you hold, as its ticker: BTC, ETH, SOL.", ""),
    Question("quantity", "Quantity", "How many coins you hold (0.5 = half a coin).", 0.0, (), True),
    Question(
        "location",
        "Where it is held",
        "Where the coins sit (ledger, binance, ...): for your notes, the hedge is the same.",
    ),
    Question(
        "price",
        "Price, USD (optional)",
        "Leave it empty to use the latest stored price of the coin.",
        number=True,
    ),
    Question(
        "ratio",
        "Own hedge ratio (optional)",
        "Insure this holding at another fraction than the portfolio's (0 leaves it unhedged).",
        number=True,
    ),
    Question(
        "proxy",
        "Hedge with another coin (optional)",
        "For a coin with no perpetual: the coin whose perpetual hedges it instead, e.g. BTC.",
    ),
    Question(
        "beta",
        "Beta to that coin (optional)",
        "How strongly the coin follows the proxy (1.3 = moves 1.3 times as much); "
        "empty: estimated from stored prices.",
        number=True,
    ),
)

_HEDGE_HELP: dict[str, tuple[str, str]] = {
    "ratio": (
        "Hedge ratio",
        "The fraction of your holdings' value to insure: 1 = all of it, 0.5 = half.",
    ),
    "leverage": (
        "Leverage",
        "Short size divided by the margin you post: more leverage needs less margin but brings "
        "liquidation closer; for insurance 1 to 3 is usual.",
    ),
    "exchange": ("Exchange", "Where the short perpetual is opened, e.g. binance, bybit, okx."),
    "contract": (
        "Contract type",
        "linear: USDT-margined, the margin is USDT; inverse: coin-margined, the coins "
        "themselves back the short.",
    ),
    "margin_mode": (
        "Margin mode",
        "isolated: each short has its own margin; cross: the shorts share one margin account.",
    ),
    "order_type": (
        "Order type",
        "limit: orders priced near the mark (lower fees); market: filled at once.",
    ),
}


def _choices(annotation: object) -> tuple[str, ...]:
    if typing.get_origin(annotation) is typing.Literal:
        return tuple(str(a) for a in typing.get_args(annotation))
    return ()


def _is_number(annotation: object) -> bool:
    args = typing.get_args(annotation) or (annotation,)
    return any(a in (int, float) for a in args)


def section_models() -> dict[str, type[BaseModel]]:
    """The file's table sections other than [[holdings]]: {"hedge": HedgeConfig, ...}."""
    out: dict[str, type[BaseModel]] = {}
    for name, info in PortfolioFile.model_fields.items():
        model = info.annotation
        if name != "holdings" and isinstance(model, type) and issubclass(model, BaseModel):
            out[name] = model
    return out


def section_questions(section: str) -> tuple[Question, ...]:
    """The questions of one table section, from its model (labels and help where written)."""
    model = section_models()[section]
    questions = []
    for key, info in model.model_fields.items():
        label, help_text = _HEDGE_HELP.get(key, ("", "")) if section == "hedge" else ("", "")
        questions.append(
            Question(
                key,
                label or key.replace("_", " ").capitalize(),
                help_text or info.description or "",
                info.default,
                _choices(info.annotation),
                _is_number(info.annotation),
            )
        )
    return tuple(questions)


def _value(value: object) -> str:
    """A TOML literal: true/false, a number (inf and nan as TOML spells them) or a string."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        number = float(value)
        if math.isnan(number):
            return "nan"
        if math.isinf(number):
            return "inf" if number > 0 else "-inf"
        return str(int(number)) if number.is_integer() and abs(number) < 1e15 else repr(number)
    # JSON's escapes are TOML's; TOML also refuses a raw DEL
    return json.dumps(str(value), ensure_ascii=False).replace("\x7f", "\\u007f")


def _lines(values: Mapping[str, Any], questions: Sequence[Question]) -> list[str]:
    out = []
    for question in questions:
        value = values.get(question.key)
        if value is None or value == "":
            continue
        out += [f"# {line}" for line in textwrap.wrap(question.help, 96)]
        out.append(f"{question.key} = {_value(value)}")
    return out


def portfolio_toml(raw: Mapping[str, Any]) -> str:
    """A commented portfolio file from a document of the file's shape (validate it first)."""
    out = ["# perphedge portfolio: what you hold and how to insure it (perphedge plan FILE)", ""]
    for holding in raw.get("holdings", []):
        out += ["[[holdings]]", *_lines(holding, HOLDING_QUESTIONS), ""]
    for section in section_models():
        values = raw.get(section)
        if values:
            out += [f"[{section}]", *_lines(values, section_questions(section)), ""]
    return "\n".join(out)
