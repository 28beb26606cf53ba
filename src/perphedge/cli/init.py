"""`perphedge init [FILE]`: ask what you hold and how to insure it; write a commented TOML.

The questions are the Start page's (`perphedge.portfolio_toml`), and every answer is checked by
the rules that read the file (`perphedge.config.portfolio_from_dict`): a wrong answer is said in
one line and asked again. The file is written only at the end, whole.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated, Any

import typer

from perphedge.config import ConfigError, portfolio_from_dict
from perphedge.errors import InputError
from perphedge.portfolio_toml import (
    HOLDING_QUESTIONS,
    Question,
    answer,
    portfolio_toml,
    section_models,
    section_questions,
    shown,
)
from perphedge.report.render import console, err_console


def _ask(question: Question, default: object = None) -> object:
    """One answer; empty keeps the default (None: leave the key out)."""
    console.print(f"[dim]{question.help}[/]", highlight=False)
    choices = f" ({'/'.join(question.choices)})" if question.choices else ""
    text_default = shown(default)
    text = typer.prompt(
        f"{question.label}{choices}", default=text_default, show_default=bool(text_default)
    )
    return answer(question, text) if str(text).strip() else None


def _problem(document: dict[str, Any]) -> ConfigError | None:
    try:
        portfolio_from_dict(document, "portfolio")
    except ConfigError as bad:
        return bad
    return None


def _answer(
    question: Question,
    values: dict[str, Any],
    document: dict[str, Any],
    default: object = None,
    empty_ends: bool = False,
) -> bool:
    """Ask until the validator has nothing to say about this key (other keys may come later).

    With `empty_ends`, an empty answer returns False at once (no more holdings)."""
    while True:
        value = _ask(question, default)
        if value is None and empty_ends:
            return False
        if value is None:
            values.pop(question.key, None)
        else:
            values[question.key] = value
        bad = _problem(document)
        if bad is None or bad.path.rsplit(".", 1)[-1] != question.key:
            return True
        err_console.print(f"error: {str(bad).split(': ', 1)[1]}", markup=False, highlight=False)


def _holding(number: int, document: dict[str, Any]) -> bool:
    """Ask one holding; False when the user is done (empty coin)."""
    console.print(f"\n[bold]Holding {number}[/]")
    values: dict[str, Any] = {}
    holdings = document["holdings"]
    holdings.append(values)
    by_key = {q.key: q for q in HOLDING_QUESTIONS}
    if not _answer(by_key["asset"], values, document, empty_ends=True):
        holdings.pop()
        return False
    _answer(by_key["quantity"], values, document)
    _answer(by_key["location"], values, document)
    if typer.confirm("More options (price, own ratio, proxy coin)?", default=False):
        for question in HOLDING_QUESTIONS[3:]:
            _answer(question, values, document)
    return True


def _section(name: str, document: dict[str, Any]) -> None:
    if name != "hedge" and not typer.confirm(f"\nUse the [{name}] settings?", default=False):
        return
    console.print(f"\n[bold]\\[{name}][/]")
    values: dict[str, Any] = {}
    document[name] = values
    for question in section_questions(name):
        _answer(question, values, document, question.default)


def init(
    file: Annotated[Path, typer.Argument(help="The portfolio file to write.")] = Path(
        "portfolio.toml"
    ),
    force: Annotated[bool, typer.Option("--force", help="Overwrite it if it exists.")] = False,
) -> None:
    """Ask what you hold and how to insure it; write a commented portfolio TOML."""
    if file.suffix.lower() != ".toml":
        raise InputError("FILE", str(file), "give a file name ending in .toml")
    if file.exists() and not force:
        raise InputError("FILE", str(file), "it exists; choose another name or add --force")
    if not file.parent.is_dir():
        raise InputError("FILE", str(file), f"the folder {file.parent} does not exist")
    console.print("What do you hold? One coin at a time; leave the coin empty when done.")
    document: dict[str, Any] = {"holdings": []}
    while _holding(len(document["holdings"]) + 1, document) or not document["holdings"]:
        pass
    for name in section_models():
        _section(name, document)
    portfolio_from_dict(document, file.name)  # the whole file once more: nothing half-valid
    temporary = file.with_name(f".{file.name}.tmp")
    temporary.write_text(portfolio_toml(document), encoding="utf-8")
    os.replace(temporary, file)
    console.print(f"\nwritten {file}; next: perphedge plan {file}", highlight=False)


def register(app: typer.Typer) -> None:
    app.command("init")(init)
