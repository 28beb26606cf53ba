"""The `perphedge` command: one Typer app; errors mapped to exit codes in one place.

Exit codes: 0 ok; 2 bad input, data or capability (one line naming field, value and fix);
3 a safety guardrail refused; 4 the exchange failed (or a run ended short of target); 5 the
account and the journal disagree (nothing more is sent), or `hedge check` / `monitor --once`
found a leg liquidated and not re-opened; 1 anything unexpected.
`--debug` shows tracebacks.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence
from typing import Any

import typer
from typer.core import TyperCommand, TyperGroup
from typer.exceptions import TyperException

from perphedge.cli.wiring import Adapters, using
from perphedge.errors import PerphedgeError
from perphedge.report.render import err_console

# Commands load on first use: `perphedge --help` and an offline `plan` import only what they
# need (no ccxt, numba or plotly). name -> (module whose register() adds it, one-line help);
# tests/cli/test_startup.py checks every line against the command's own docstring.
COMMANDS: dict[str, tuple[str, str]] = {
    "init": ("init", "Ask what you hold and how to insure it; write a commented portfolio TOML."),
    "liquidation": (
        "liquidation",
        "Liquidation and bankruptcy price, margins and distance to liquidation of one position.",
    ),
    "demo": (
        "demo",
        "Plan and stress the bundled example portfolios (linear, proxy, coin-margined).",
    ),
    "exchanges": (
        "exchanges",
        "Capability table per venue: funding history, tiers, coin-margined, orders, intervals …",
    ),
    "funding": (
        "funding",
        "Funding carry of a SHORT perpetual hedge per venue, and where it is cheapest to hold.",
    ),
    "beta": (
        "beta",
        "Minimum-variance hedge ratio (OLS beta) of each ASSET against the --vs perpetual.",
    ),
    "plan": (
        "plan",
        "The short perpetuals that would insure PORTFOLIO: sizes, margin, liquidation, funding.",
    ),
    "stress": (
        "plan",
        "Price shocks, funding regimes, basis and a short squeeze applied to PORTFOLIO's hedge.",
    ),
    "monitor": (
        "monitor",
        "Watch the hedge: positions, drift, margin, liquidation distance, funding; alert on limits.",
    ),
    "backtest": (
        "backtest",
        "Unhedged, hedged and policy runs of a portfolio over stored history.",
    ),
    "sweep": (
        "sweep",
        "Run a grid of policies, ratios, leverages and reserves and rank the results.",
    ),
    "hedge": (
        "hedge",
        "Open, rebalance or close the hedge on an exchange (dry run unless --execute).",
    ),
    "paper": ("paper", "The offline paper account used by --paper."),
    "data": ("data", "The local market-data store: sync, list, show, import, export."),
    "ui": ("ui", "Open the local page (127.0.0.1 only, with a secret token in its address)."),
}


class LazyGroup(TyperGroup):
    """A command group that imports a command's module only when that command runs.

    Listing commands in --help reads the one-line help from COMMANDS instead of importing."""

    listing = False

    # typer ships its own click: its types are private, hence `Any` for the formatter and returns
    def list_commands(self, ctx: Any) -> list[str]:
        return [*super().list_commands(ctx), *COMMANDS]

    def get_command(self, ctx: Any, cmd_name: str) -> Any:
        found = super().get_command(ctx, cmd_name)
        if found is not None or cmd_name not in COMMANDS:
            return found
        short_help = COMMANDS[cmd_name][1]
        if self.listing:
            return TyperCommand(cmd_name, help=short_help, short_help=short_help)
        return load_command(cmd_name)

    def format_help(self, ctx: Any, formatter: Any) -> None:
        self.listing = True
        try:
            super().format_help(ctx, formatter)
        finally:
            self.listing = False


def load_command(name: str) -> Any:
    """The click command `name`, built from its module's register()."""
    module = importlib.import_module(f"perphedge.cli.{COMMANDS[name][0]}")
    holder = typer.Typer(pretty_exceptions_enable=False, add_completion=False)
    module.register(holder)
    group = typer.main.get_group(holder)
    command = group.commands[name]
    return command


app = typer.Typer(
    name="perphedge",
    help="Insure crypto holdings with short perpetual futures.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=True,
    cls=LazyGroup,
)


def _show_version(value: bool) -> None:
    if value:
        from perphedge import __version__

        print(f"perphedge {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    debug: bool = typer.Option(False, "--debug", help="Show tracebacks on errors."),
    version: bool = typer.Option(
        False, "--version", callback=_show_version, is_eager=True, help="Print the version."
    ),
) -> None:
    """Insure crypto holdings with short perpetual futures (dollar-neutral hedges)."""


def _fail(message: str, code: int) -> None:
    err_console.print(f"error: {message}", markup=False, highlight=False, soft_wrap=True)
    raise SystemExit(code)


def main(argv: Sequence[str] | None = None, adapters: Adapters | None = None) -> None:
    """Console-script entry point; `adapters` replaces the real ports (tests pass fakes)."""
    args = list(sys.argv[1:] if argv is None else argv)
    with using(adapters):
        _run(args)


def _run(args: list[str]) -> None:
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
