"""ASGI middleware bounding what request bodies can hold: bytes, time and how many at once.

- A body over ``max_bytes`` is refused (``Content-Length`` first, then by counting
  streamed bytes, for chunked uploads), never buffered whole.
- With ``timeout_s``, a body not complete within it of the request is refused and the
  connection closed: a client that stalls (or trickles) cannot hold it open.
- With ``max_concurrent``, at most that many bodies are received at once; one more is
  refused at once. Requests without a body (GET) need no slot.

How a refusal looks is the server's protocol: ``reply(refusal, message)`` gives the
ASGI reply (Google's JSON error for the local model server, Rekognition's for the face
engine). It should close the connection, since the rest of the body will not be read.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from enum import StrEnum

from starlette.types import ASGIApp, Message, Receive, Scope, Send

BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


class Refusal(StrEnum):
    """Why a body was refused."""

    TOO_LARGE = "too large"
    TOO_SLOW = "too slow"
    BUSY = "busy"


RefusalReply = Callable[[Refusal, str], ASGIApp]
"""Makes the reply refusing a body, from why and a message saying so."""


class BodyLimit:
    """See the module docstring."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_bytes: int,
        reply: RefusalReply,
        timeout_s: float | None = None,
        max_concurrent: int | None = None,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.reply = reply
        self.timeout_s = timeout_s
        self.max_concurrent = max_concurrent
        self.receiving = 0  # bodies being received now (one event loop: no lock needed)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in BODY_METHODS:
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_bytes:
            await self.reply(Refusal.TOO_LARGE, self._too_large())(scope, receive, send)
            return
        if self.max_concurrent is not None and self.receiving >= self.max_concurrent:
            message = f"the server is receiving {self.receiving} uploads already; retry shortly"
            await self.reply(Refusal.BUSY, message)(scope, receive, send)
            return
        self.receiving += 1
        try:
            chunks = await self._body(receive)
        finally:
            self.receiving -= 1
        if isinstance(chunks, tuple):
            await self.reply(*chunks)(scope, receive, send)
            return

        async def replay() -> Message:
            return chunks.pop(0) if chunks else await receive()

        await self.app(scope, replay, send)

    async def _body(self, receive: Receive) -> list[Message] | tuple[Refusal, str]:
        """The body's messages, or (why, message) when it must be refused."""
        deadline = None if self.timeout_s is None else time.monotonic() + self.timeout_s
        chunks: list[Message] = []
        total = 0
        while True:
            if deadline is None:
                message = await receive()
            else:
                try:
                    message = await asyncio.wait_for(
                        receive(), max(0.0, deadline - time.monotonic())
                    )
                except TimeoutError:
                    return Refusal.TOO_SLOW, (
                        f"request body not received within {self.timeout_s:g} s"
                    )
            chunks.append(message)
            if message["type"] != "http.request":
                return chunks  # the client went away; the app sees the disconnect
            total += len(message.get("body", b""))
            if total > self.max_bytes:
                return Refusal.TOO_LARGE, self._too_large()
            if not message.get("more_body", False):
                return chunks

    def _too_large(self) -> str:
        return f"request body exceeds the {self.max_bytes}-byte limit"
