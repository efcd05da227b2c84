"""Serve an ASGI app in the foreground with uvicorn until SIGINT/SIGTERM.

The one way the project's servers run for people (``isotope serve``, ``isotope faces
serve``): request heads under a deadline (``providers.http.head_deadline``), no access
log, graceful shutdown.
"""

from __future__ import annotations

import uvicorn
from starlette.types import ASGIApp

from providers.http.head_deadline import HeadDeadlineProtocol


def serve_forever(app: ASGIApp, *, host: str, port: int) -> None:
    """Serve ``app`` on ``host:port`` until SIGINT/SIGTERM (requests in flight finish)."""
    uvicorn.run(
        app,
        host=host,
        port=port,
        log_level="info",
        access_log=False,
        lifespan="on",
        http=HeadDeadlineProtocol,
    )
