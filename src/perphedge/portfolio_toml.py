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

import enum
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
    boolean: bool = False


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

_HELP: dict[str, tuple[str, str]] = {  # "section.key": (label, one sentence of help)
    "hedge.ratio": (
        "Hedge ratio",
        "The fraction of your holdings' value to insure: 1 = all of it, 0.5 = half.",
    ),
    "hedge.leverage": (
        "Leverage",
        "Short size divided by the margin you post: more leverage needs less margin but brings "
        "liquidation closer; for insurance 1 to 3 is usual.",
    ),
    "hedge.exchange": (
        "Exchange",
        "Where the short perpetual is opened, e.g. binance, bybit, okx.",
    ),
    "hedge.contract": (
        "Contract type",
        "linear: USDT-margined, the margin is USDT; inverse: coin-margined, the coins "
        "themselves back the short.",
    ),
    "hedge.margin_mode": (
        "Margin mode",
        "isolated: each short has its own margin; cross: the shorts share one margin account.",
    ),
    "hedge.order_type": (
        "Order type",
        "limit: orders priced near the mark (lower fees); market: filled at once.",
    ),
    "keeper.min_distance": (
        "Top up below this distance",
        "Add margin when a price rise of this fraction would liquidate the short (0.3 = 30 %).",
    ),
    "keeper.target_distance": (
        "Top up to this distance",
        "How far from liquidation a top-up brings the short (0.5 = a 50 % rise).",
    ),
    "keeper.drift_band": (
        "Re-size when off by",
        "Resize the short when it is off its target size by more than this fraction.",
    ),
    "keeper.on_shortfall": (
        "When the reserve runs out",
        "sell_spot: sell a little of the coins on the exchange and shrink the short alike; "
        "delever: shrink the short; alert: only say how much to add.",
    ),
    "keeper.spot_on_exchange": (
        "Coins are on the exchange",
        "true when the coins sit on the same exchange as the short (sell_spot needs it).",
    ),
    "keeper.reopen": ("Re-open after a liquidation", "Open the short again after a cooldown."),
    "keeper.reopen_cooldown_hours": ("Cooldown, hours", "Hours to wait before re-opening."),
    "keeper.funding_limit_apr": (
        "Funding cost limit, per year",
        "Funding paid by the short (0.3 = 30 % a year) above which the action below applies.",
    ),
    "keeper.funding_action": (
        "Above the funding limit",
        "keep: hold the short; reduce: shrink it; unwind: close it until funding improves.",
    ),
    "keeper.funding_reduced_ratio": (
        "Reduced size",
        "The fraction of the short kept while funding is too expensive.",
    ),
    "keeper.funding_hysteresis_apr": (
        "Restore margin, per year",
        "Restore the full short only once the cost is this much below the limit.",
    ),
    "keeper.funding_min_hold_hours": (
        "Hold at least, hours",
        "No funding switch sooner than this after the previous one.",
    ),
    "keeper.funding_window_days": (
        "Funding measured over, days",
        "The trailing days over which the funding cost is measured.",
    ),
    "keeper.return_surplus": (
        "Give surplus back",
        "true: margin beyond what the surplus distance needs goes back to the reserve.",
    ),
    "keeper.surplus_distance": (
        "Surplus beyond this distance",
        "Margin that keeps the short further than this from liquidation counts as surplus.",
    ),
    "keeper.reserve_usd": (
        "Reserve, USD (optional)",
        "Cash kept ready to top up the margin; empty: sized from history by the plan.",
    ),
}


def _choices(annotation: object) -> tuple[str, ...]:
    if typing.get_origin(annotation) is typing.Literal:
        return tuple(str(a) for a in typing.get_args(annotation))
    if annotation is bool:
        return ("true", "false")
    return ()


def _is_number(annotation: object) -> bool:
    args = typing.get_args(annotation) or (annotation,)
    return any(a in (int, float) for a in args)


def answer(question: Question, text: str) -> object:
    """Typed text of an answer: '0.5' -> 0.5, 'true' -> True; what cannot be read stays text,
    for the validator to name."""
    text = text.strip()
    if question.boolean and text.lower() in ("true", "false"):
        return text.lower() == "true"
    if not question.number or not text:
        return text
    try:
        return float(text.replace(",", ""))
    except ValueError:
        return text


def shown(value: object) -> str:
    """The text of a value in a form or prompt: 1.0 -> '1', True -> 'true'."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, enum.Enum):
        return str(value.value)
    return str(value)


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
        label, help_text = _HELP.get(f"{section}.{key}", ("", ""))
        questions.append(
            Question(
                key,
                label or key.replace("_", " ").capitalize(),
                help_text or info.description or "",
                info.default,
                _choices(info.annotation),
                _is_number(info.annotation),
                info.annotation is bool,
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
