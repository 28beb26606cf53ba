"""Serve the page on 127.0.0.1: bind, build the app for this launch, run uvicorn.

`bind(port)` opens the listening socket first (port 0: any free port), so the app knows its real
port for the Host check and the printed address; `serve` runs until Ctrl-C. Tests use
`Server.start_in_thread` to run the same server beside them.
"""

from __future__ import annotations

import asyncio
import socket
import threading
from dataclasses import dataclass, field

import uvicorn

from perphedge.errors import InputError
from perphedge.web.app import create_app
from perphedge.web.security import Launch
from perphedge.web.state import Adapters, Workspace

HOST = "127.0.0.1"  # loopback only, never a public interface


def bind(port: int) -> socket.socket:
    """A listening socket on 127.0.0.1:`port`; InputError naming --port when it is taken."""
    if not 0 <= port <= 65535:
        raise InputError("--port", port, "give a port between 1024 and 65535 (0: any free one)")
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    try:
        sock.bind((HOST, port))
    except OSError as bad:
        sock.close()
        raise InputError(
            "--port", port, f"cannot listen there ({bad.strerror}); try another"
        ) from None
    sock.listen(64)
    sock.set_inheritable(True)
    return sock


@dataclass
class Server:
    """One launch: its socket, its secret, its app and the uvicorn server running it."""

    sock: socket.socket
    launch: Launch
    adapters: Adapters
    workspace: Workspace = field(default_factory=Workspace)
    base_url: str | None = None  # the Live page's exchange API (None: the venue's own)
    _server: uvicorn.Server | None = None
    _thread: threading.Thread | None = None

    @classmethod
    def open(
        cls,
        port: int,
        adapters: Adapters,
        allow_execute: bool = False,
        workspace: Workspace | None = None,
        base_url: str | None = None,
    ) -> Server:
        sock = bind(port)
        launch = Launch(port=sock.getsockname()[1], allow_execute=allow_execute)
        return cls(sock, launch, adapters, workspace or Workspace(), base_url)

    def _uvicorn(self) -> uvicorn.Server:
        app = create_app(self.launch, self.adapters, self.workspace, self.base_url)
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="off")
        self._server = uvicorn.Server(config)
        return self._server

    def run(self) -> None:
        """Serve until interrupted (Ctrl-C)."""
        asyncio.run(self._uvicorn().serve(sockets=[self.sock]))

    def start_in_thread(self) -> None:
        """Serve from a background thread; returns once the server accepts connections."""
        server = self._uvicorn()
        self._thread = threading.Thread(
            target=lambda: asyncio.run(server.serve(sockets=[self.sock])), daemon=True
        )
        self._thread.start()
        while not server.started:
            if not self._thread.is_alive():
                raise RuntimeError("the page's server stopped while starting")
            threading.Event().wait(0.02)

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.sock.close()
