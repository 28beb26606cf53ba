"""`perphedge ui`: the local page for building, planning, stressing and keeping a hedge.

The web stack (Starlette, uvicorn, plotly) is imported inside the command, so `perphedge --help`
and every other command start without it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from perphedge.report.render import console


def ui(
    port: int = typer.Option(0, "--port", help="Port on 127.0.0.1 (0: any free port)."),
    no_browser: bool = typer.Option(False, "--no-browser", help="Do not open a browser."),
    allow_execute: bool = typer.Option(
        False,
        "--allow-execute",
        help="Let the Live page send orders (after a confirmation showing them).",
    ),
    portfolio: Annotated[
        Path | None, typer.Option("--portfolio", help="A portfolio TOML file to start with.")
    ] = None,
    base_url: str | None = typer.Option(None, "--base-url", hidden=True),  # a local fake exchange
) -> None:
    """Open the local page (127.0.0.1 only, with a secret token in its address)."""
    import webbrowser

    from perphedge.cli import wiring
    from perphedge.web.server import Server
    from perphedge.web.state import Workspace

    workspace = Workspace()
    if portfolio is not None:
        workspace.load(portfolio)
    server = Server.open(port, wiring.current(), allow_execute, workspace, base_url)
    url = server.launch.url
    console.print(f"perphedge page: {url}", markup=False, highlight=False, soft_wrap=True)
    console.print("Keep this address to yourself: its token opens the page. Ctrl-C stops it.")
    if allow_execute:
        console.print("--allow-execute: the Live page can send real orders after a confirmation.")
    if not no_browser:
        webbrowser.open(url)
    try:
        server.run()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()


def register(app: typer.Typer) -> None:
    app.command("ui")(ui)
