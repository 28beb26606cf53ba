"""Start: a guided form builds the portfolio; save it as TOML, or load a file.

The form is validated by `perphedge.config.portfolio_errors`, the rules that read a file, and
every error is shown at once beside its field (and listed above the form). Saving writes the commented TOML of
`perphedge.portfolio_toml` (to a temporary file first, then renamed: never half-written).
"""

from __future__ import annotations

import os
import tomllib
from importlib import resources
from pathlib import Path
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from perphedge.config import portfolio_errors, portfolio_from_dict
from perphedge.errors import InputError
from perphedge.portfolio_toml import (
    HOLDING_QUESTIONS,
    portfolio_toml,
    section_models,
    section_questions,
    shown,
)
from perphedge.web.forms import document_to_fields, field_of, form_to_document
from perphedge.web.views import render, workspace_of

DEFAULT_FILE = "portfolio.toml"


def example_document() -> dict[str, Any]:
    """The bundled example portfolio (BTC and ETH, hedged in full at 5x on Binance)."""
    text = (resources.files("perphedge") / "data" / "examples" / "portfolio.toml").read_text()
    return tomllib.loads(text)


def _defaults() -> dict[str, str]:
    """A blank form: one empty holding and the [hedge] defaults (other sections start off)."""
    return {
        f"hedge-{q.key}": shown(q.default)
        for q in section_questions("hedge")
        if q.default is not None
    }


def _fields(document: dict[str, Any], form: dict[str, str]) -> dict[str, str]:
    """Form values of `document`, keeping the file path and section switches the user set."""
    fields = document_to_fields(document)
    fields["path"] = form.get("path", "")
    switches = [f"{section}-enabled" for section in section_models()]
    for key, value in form.items():
        if value == "on" and (key in switches or key.endswith("-more")):
            fields[key] = "on"
    return fields


def _rows(fields: dict[str, str]) -> int:
    indexes = [int(k.split("-")[1]) for k in fields if k.startswith("holdings-")]
    return max(indexes, default=-1) + 1 or 1


def _form(
    request: Request,
    fields: dict[str, str],
    errors: dict[str, str] | None = None,
    message: str = "",
    rows: int | None = None,
    status: int = 200,
) -> Response:
    sections = {name: section_questions(name) for name in section_models()}
    enabled = {name for name in sections if any(k.startswith(f"{name}-") for k in fields)}
    return render(
        request,
        "start_form.html" if request.headers.get("hx-request") else "start.html",
        status=status,
        fields=fields,
        errors=errors or {},
        message=message,
        rows=rows or _rows(fields),
        holding_questions=HOLDING_QUESTIONS,
        sections=sections,
        enabled=enabled | {"hedge"},
        save_path=fields.get("path") or str(workspace_of(request).path or DEFAULT_FILE),
        oob=bool(request.headers.get("hx-request")),  # the header's portfolio line follows
    )


async def start_page(request: Request) -> Response:
    workspace = workspace_of(request)
    fields = document_to_fields(workspace.document) if workspace.document else _defaults()
    return _form(request, fields)


def _feedback(
    request: Request, form: dict[str, str], errors: dict[str, str], message: str = ""
) -> Response:
    """Messages and every field's error slot, swapped in place: what is typed stays as typed."""
    names = [key for key in form if not key.endswith(("-more", "-enabled"))]  # no error slot
    return render(request, "start_feedback.html", names=names, errors=errors, message=message)


def _check(document: dict[str, Any]) -> tuple[Any, dict[str, str]]:
    """(config, {}) when valid, else (None, {field: its fix, ...; "": every error, one a
    line}): all of the file rules' errors at once, each beside its field."""
    found = portfolio_errors(document, "portfolio")
    if not found:
        return portfolio_from_dict(document, "portfolio"), {}
    errors: dict[str, str] = {}
    for bad in found:
        errors.setdefault(field_of(bad.path), bad.fix)
    errors[""] = "\n".join(str(bad).split(": ", 1)[1] for bad in found)
    return None, errors


async def form_action(request: Request) -> Response:
    """Add/remove a holding row, check, or use the portfolio (the form's buttons)."""
    form = {k: str(v) for k, v in (await request.form()).items()}
    action = form.pop("action", "check")
    if action == "example":
        fields = _fields(example_document(), form)
        return _form(request, fields, message="Example filled in: press Use this portfolio.")
    document = form_to_document(form)
    fields = _fields(document, form)
    rows = max(len(document["holdings"]), 1)
    if action == "add":
        return _form(request, fields, rows=rows + 1)
    if action.startswith("remove-"):
        index = int(action.split("-")[1])
        if 0 <= index < len(document["holdings"]):
            del document["holdings"][index]
        return _form(request, _fields(document, form), rows=max(rows - 1, 1))
    config, errors = _check(document)
    if errors or action != "use":
        return _feedback(request, form, errors, "" if errors else "Everything is valid.")
    workspace_of(request).use(document, config)
    return _feedback(request, form, {}, "Portfolio in use: see the Plan page.")


def _write_atomically(path: Path, text: str) -> None:
    temporary = path.with_name(f".{path.name}.tmp")
    temporary.write_text(text, encoding="utf-8")
    os.replace(temporary, path)


async def save(request: Request) -> Response:
    """Write the form's portfolio as commented TOML to the path given."""
    form = {k: str(v) for k, v in (await request.form()).items()}
    document = form_to_document(form)
    config, errors = _check(document)
    path = Path(form.get("path", "").strip() or DEFAULT_FILE).expanduser()
    if not errors and path.suffix.lower() != ".toml":
        errors = {"path": "give a file name ending in .toml"}
    if not errors and not path.parent.is_dir():
        errors = {"path": f"the folder {path.parent} does not exist"}
    if errors:
        return _feedback(request, form, errors)
    try:
        _write_atomically(path, portfolio_toml(document))
    except OSError as bad:
        return _feedback(request, form, {"path": f"cannot write it ({bad.strerror})"})
    workspace = workspace_of(request)
    workspace.use(document, config)
    workspace.path = path.resolve()
    return _feedback(request, form, {}, f"Saved to {path.resolve()} and in use.")


async def load(request: Request) -> Response:
    """Read a portfolio file from the path given and fill the form with it."""
    form = {k: str(v) for k, v in (await request.form()).items()}
    path = Path(form.get("path", "").strip() or DEFAULT_FILE).expanduser()
    workspace = workspace_of(request)
    try:
        workspace.load(path)
    except InputError as bad:
        fields = _fields(form_to_document(form), form)
        return _form(request, fields, {"path": " ".join(str(bad).split())})
    assert workspace.document is not None
    fields = _fields(workspace.document, form)
    return _form(request, fields, message=f"Loaded {path} and in use.")


async def download(request: Request) -> Response:
    """The portfolio in use as a TOML download."""
    document = workspace_of(request).document
    if document is None:
        return Response("no portfolio yet: fill in the Start form first\n", status_code=404)
    return Response(
        portfolio_toml(document),
        media_type="application/toml",
        headers={"content-disposition": f'attachment; filename="{DEFAULT_FILE}"'},
    )


ROUTES = [
    Route("/", start_page),
    Route("/start/form", form_action, methods=["POST"]),
    Route("/start/save", save, methods=["POST"]),
    Route("/start/load", load, methods=["POST"]),
    Route("/start/portfolio.toml", download),
]
