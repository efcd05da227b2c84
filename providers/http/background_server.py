"""Run an ASGI app with uvicorn in a daemon thread on a free loopback port (tests, demos).

The socket is bound before the thread starts, so the port is known (and taken) at once.
Used by the local model server, the local face engine and the test fakes; it imports
neither torch nor any SDK.
"""

from __future__ import annotations

import socket
import threading
import time
from typing import Self

import uvicorn
from starlette.types import ASGIApp

from providers.http.head_deadline import HEAD_TIMEOUT_S, with_head_timeout


class BackgroundServer:
    """uvicorn serving ``app`` in a thread; a context manager. ``base_url`` is its URL.

    Request heads must arrive within ``head_timeout_s`` (``providers.http.head_deadline``).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        head_timeout_s: float = HEAD_TIMEOUT_S,
    ) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self.host = host
        self.port = self._sock.getsockname()[1]
        self.app = app
        config = uvicorn.Config(
            app,
            log_level="warning",
            access_log=False,
            lifespan="on",
            http=with_head_timeout(head_timeout_s),
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    @property
    def base_url(self) -> str:
        """Where the server listens: ``http://HOST:PORT``."""
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 30.0) -> Self:
        """Start serving and wait until it accepts connections (once; later calls return)."""
        if self._thread.is_alive() or self._server.started:
            return self
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"server on {self.base_url} did not start")
            time.sleep(0.01)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Shut down gracefully (finishing requests in flight) and release the port."""
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout)
        self._sock.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
