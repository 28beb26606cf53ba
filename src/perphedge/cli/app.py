"""The `perphedge` command: one Typer app; errors mapped to exit codes in one place.

Exit codes: 0 ok; 2 bad input, data or capability (one line naming field, value and fix);
3 a safety guardrail refused; 4 the exchange failed; 1 anything unexpected.
`--debug` shows tracebacks.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence

import typer
from typer.exceptions import TyperException

from perphedge.errors import PerphedgeError
from perphedge.report.render import err_console

app = typer.Typer(
    name="perphedge",
    help="Insure crypto holdings with short perpetual futures.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks on errors."),
) -> None:
    """Insure crypto holdings with short perpetual futures (dollar-neutral hedges)."""


def _register_commands() -> None:
    from perphedge.cli import (
        backtest,
        beta,
        data,
        demo,
        exchanges,
        funding,
        hedge,
        liquidation,
        monitor,
        paper,
        plan,
        sweep,
    )

    for module in (
        liquidation,
        demo,
        exchanges,
        funding,
        beta,
        plan,
        hedge,
        monitor,
        paper,
        backtest,
        sweep,
        data,
    ):
        module.register(app)


_register_commands()


def _fail(message: str, code: int) -> None:
    err_console.print(f"error: {message}", markup=False, highlight=False, soft_wrap=True)
    raise SystemExit(code)


def main(argv: Sequence[str] | None = None) -> None:
    """Console-script entry point."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    try:
        code = app(args=args, prog_name="perphedge", standalone_mode=False)
        if isinstance(code, int) and code:  # typer.Exit(n) comes back as a return value here
            raise SystemExit(code)
    except typer.Exit as done:
        raise SystemExit(done.exit_code) from None
    except typer.Abort:  # at a prompt (end of input, Ctrl-C): end the prompt's line first
        err_console.print()
        _fail("aborted", 130)
    except TyperException as bad:  # usage errors: missing or malformed options
        if debug:
            raise
        message = bad.format_message() if hasattr(bad, "format_message") else str(bad)
        if not message.strip():  # a bare command group: its help is printed, nothing to add
            raise SystemExit(getattr(bad, "exit_code", 2)) from None
        _fail(" ".join(message.split()), getattr(bad, "exit_code", 2))
    except PerphedgeError as bad:
        if debug:
            raise
        _fail(" ".join(str(bad).split()), bad.exit_code)
    except KeyboardInterrupt:
        _fail("interrupted", 130)
