"""The Start form <-> a portfolio document, and a file error's key path <-> the form field.

Field names: `holdings-0-asset`, `holdings-0-quantity`, ..., `hedge-ratio`, `keeper-...`. The form
is turned into the same document a TOML file parses into, and `perphedge.config` validates it, so
the page and the file can never disagree on what is valid.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from perphedge.portfolio_toml import (
    HOLDING_QUESTIONS,
    answer,
    section_models,
    section_questions,
    shown,
)

_HOLDING = re.compile(r"^holdings-(\d+)-(\w+)$")
MAX_HOLDINGS = 50


def _holding_count(form: Mapping[str, str]) -> int:
    indexes = [int(m.group(1)) for k in form if (m := _HOLDING.match(k))]
    return min(max(indexes, default=-1) + 1, MAX_HOLDINGS)


def form_to_document(form: Mapping[str, str]) -> dict[str, Any]:
    """The portfolio document of a submitted form (empty fields left out, as in a file)."""
    holdings = []
    for index in range(_holding_count(form)):
        row = {}
        for q in HOLDING_QUESTIONS:
            text = form.get(f"holdings-{index}-{q.key}", "")
            if text.strip():
                row[q.key] = answer(q, text)
        if row:
            holdings.append(row)
    document: dict[str, Any] = {"holdings": holdings}
    for section in section_models():
        values = {}
        for q in section_questions(section):
            text = form.get(f"{section}-{q.key}", "")
            if text.strip():
                values[q.key] = answer(q, text)
        wanted = section == "hedge" or form.get(f"{section}-enabled") == "on"
        if values and wanted:
            document[section] = values
    return document


def document_to_fields(document: Mapping[str, Any]) -> dict[str, str]:
    """Form field values of a document (for a loaded file or the current portfolio)."""
    fields: dict[str, str] = {}
    for index, holding in enumerate(document.get("holdings", [])):
        for key, value in holding.items():
            fields[f"holdings-{index}-{key}"] = shown(value)
    for section in section_models():
        for key, value in (document.get(section) or {}).items():
            fields[f"{section}-{key}"] = shown(value)
    return fields


def field_of(path: str) -> str:
    """'holdings[1].quantity' -> 'holdings-1-quantity'; 'hedge.ratio' -> 'hedge-ratio'."""
    return re.sub(r"\[(\d+)\]\.?", r"-\1-", path).replace(".", "-").strip("-")
