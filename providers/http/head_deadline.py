"""uvicorn's h11 protocol with a deadline for each request's head (request line + headers).

uvicorn bounds a head's size but not its time: a client that opens connections and
trickles header bytes (or sends nothing at all) holds each one open for as long as it
likes, and a few hundred of them starve the server ("slowloris"). Here a request's head
must be complete within ``HEAD_TIMEOUT_S`` of the connection opening, or of the previous
response on a kept-alive connection; otherwise the server answers 408 and closes.
Bodies have their own deadline (``providers.http.body_limit``).
"""

from __future__ import annotations

import asyncio
import json

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

HEAD_TIMEOUT_S = 10.0
_BODY = json.dumps(
    {"error": {"code": 408, "message": "request headers not received in time", "status": "TIMEOUT"}}
).encode()
_TIMED_OUT = (
    b"HTTP/1.1 408 Request Timeout\r\ncontent-type: application/json\r\n"
    + f"content-length: {len(_BODY)}\r\nconnection: close\r\n\r\n".encode()
    + _BODY
)


class HeadDeadlineProtocol(H11Protocol):
    """``H11Protocol`` that closes connections whose request head is not complete in time.

    Pass the class as uvicorn's ``http`` setting; ``with_head_timeout`` makes one with
    another deadline.
    """

    head_timeout_s = HEAD_TIMEOUT_S
    _head_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is not h11.IDLE:  # the head is in: a request began
            self._disarm()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if not self.transport.is_closing():
            self._arm()  # the next request on this connection gets its own deadline

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        self._disarm()
        self._head_timer = self.loop.call_later(self.head_timeout_s, self._too_slow)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _too_slow(self) -> None:
        self._head_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.write(_TIMED_OUT)
            self.transport.close()


def with_head_timeout(seconds: float) -> type[HeadDeadlineProtocol]:
    """A ``HeadDeadlineProtocol`` whose heads must arrive within ``seconds``."""
    return type("HeadDeadlineProtocol", (HeadDeadlineProtocol,), {"head_timeout_s": seconds})
