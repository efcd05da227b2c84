"""ASGI middleware refusing request bodies over a limit, with Rekognition's error shape.

``Content-Length`` is checked first, then streamed bytes are counted (chunked uploads),
so an oversized body is never buffered whole. The refusal is HTTP 400
``ImageTooLargeException``: the only large thing a Rekognition request carries is its
image.
"""

from __future__ import annotations

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from providers.faces_local import wire

# Image.Bytes of 5 MB is 7 MB as base64, plus the JSON around it.
DEFAULT_MAX_BODY = (wire.MAX_IMAGE_BYTES * 4) // 3 + 64 * 1024


class BodyLimit:
    """Refuse request bodies over ``limit`` bytes."""

    def __init__(self, app: ASGIApp, limit: int = DEFAULT_MAX_BODY) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._refuse(scope, receive, send)
            return
        chunks: list[Message] = []
        total = 0
        while True:
            message = await receive()
            chunks.append(message)
            if message["type"] != "http.request":
                break
            total += len(message.get("body", b""))
            if total > self.limit:
                await self._refuse(scope, receive, send)
                return
            if not message.get("more_body", False):
                break

        async def replay() -> Message:
            return chunks.pop(0) if chunks else await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        error = wire.AwsError(
            "ImageTooLargeException", f"request body exceeds the {self.limit}-byte limit"
        )
        await wire.error_reply(error)(scope, receive, send)
