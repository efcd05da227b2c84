"""ASGI middleware bounding what uploads can hold: bytes, time and how many at once.

- A body over ``max_bytes`` is refused with 413 (``Content-Length`` first, then by
  counting streamed bytes), never buffered whole.
- A body not complete within ``timeout_s`` of the request is answered 408 and the
  connection closed: a client that stalls (or trickles) cannot hold it open.
- At most ``max_concurrent`` bodies are received at once; one more is answered 503
  with ``Retry-After`` at once. Requests without a body (GET) need no slot.

Every refusal is Google's JSON error shape with ``Connection: close``, since the rest
of the body will not be read.
"""

from __future__ import annotations

import asyncio
import time

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from providers.local.google_error import google_error

_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_CLOSE = {"Connection": "close"}


class UploadGuard:
    """See the module docstring."""

    def __init__(
        self, app: ASGIApp, *, max_bytes: int, timeout_s: float, max_concurrent: int
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.timeout_s = timeout_s
        self.max_concurrent = max_concurrent
        self.receiving = 0  # bodies being received now (one event loop: no lock needed)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in _BODY_METHODS:
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self._refuse(scope, receive, send, 413, self._too_large())
            return
        if self.receiving >= self.max_concurrent:
            message = f"the server is receiving {self.receiving} uploads already; retry shortly"
            await self._refuse(scope, receive, send, 503, message, {"Retry-After": "1"})
            return
        self.receiving += 1
        try:
            chunks = await self._body(receive)
        finally:
            self.receiving -= 1
        if isinstance(chunks, tuple):
            await self._refuse(scope, receive, send, *chunks)
            return

        async def replay() -> Message:
            return chunks.pop(0) if chunks else await receive()

        await self.app(scope, replay, send)

    async def _body(self, receive: Receive) -> list[Message] | tuple[int, str]:
        """The body's messages, or (status, message) when it must be refused."""
        deadline = time.monotonic() + self.timeout_s
        chunks: list[Message] = []
        total = 0
        while True:
            try:
                message = await asyncio.wait_for(receive(), max(0.0, deadline - time.monotonic()))
            except TimeoutError:
                return 408, f"request body not received within {self.timeout_s:g} s"
            chunks.append(message)
            if message["type"] != "http.request":
                return chunks  # the client went away; the app sees the disconnect
            total += len(message.get("body", b""))
            if total > self.max_bytes:
                return 413, self._too_large()
            if not message.get("more_body", False):
                return chunks

    def _too_large(self) -> str:
        return f"request body exceeds the {self.max_bytes}-byte limit"

    @staticmethod
    async def _refuse(
        scope: Scope,
        receive: Receive,
        send: Send,
        code: int,
        message: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        reply = google_error(code, message, {**_CLOSE, **(headers or {})})
        await reply(scope, receive, send)
