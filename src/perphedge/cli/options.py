"""Parsing helpers shared by commands: enum choices and numeric checks with one-line errors."""

from __future__ import annotations

from enum import Enum
from typing import TypeVar

from perphedge.errors import InputError

E = TypeVar("E", bound=Enum)


def choice(enum_type: type[E], field: str, text: str) -> E:
    """`text` as a member of `enum_type` (by value, case-insensitive), else InputError."""
    for member in enum_type:
        if str(member.value).lower() == text.strip().lower():
            return member
    allowed = "|".join(str(m.value) for m in enum_type)
    raise InputError(field, text, f"use one of {allowed}")
