"""An overall deadline for each HTTP call made through a ``requests`` session.

``requests``' timeout bounds each socket read, so a server that sends one byte every
few seconds never times out. ``DeadlineAdapter`` gives every connection's socket a
timeout that is, at each read and write, the smaller of that per-read timeout and
the time left before the calling thread's deadline (``call_deadline``): headers and
body together end by the deadline, with ``TimeoutError`` inside urllib3 (a
``requests`` ``Timeout``/``ConnectionError`` to the caller). Plain ``http://`` only:
over TLS the reads happen inside OpenSSL and only the per-read timeout applies.
"""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection
from urllib3.connectionpool import HTTPConnectionPool

_state = threading.local()


def _deadline() -> float | None:
    return getattr(_state, "deadline", None)


@contextlib.contextmanager
def call_deadline(seconds: float) -> Iterator[float]:
    """Calls in this thread inside the block must finish within ``seconds``; yields the
    deadline (``time.monotonic()`` based)."""
    outer = _deadline()
    deadline = time.monotonic() + seconds
    if outer is not None:
        deadline = min(deadline, outer)
    _state.deadline = deadline
    try:
        yield deadline
    finally:
        _state.deadline = outer


class _DeadlineSocket(socket.socket):
    """A socket whose blocking calls end by the calling thread's deadline."""

    _per_call: float | None = None

    def settimeout(self, value: float | None) -> None:
        self._per_call = value  # urllib3's per-read timeout; the deadline may shorten it
        super().settimeout(value)

    def _arm(self) -> None:
        deadline = _deadline()
        if deadline is None:
            return
        left = deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("the call's overall deadline passed")
        per_call = self._per_call
        super().settimeout(left if per_call is None else min(per_call, left))

    def recv(self, *args: Any) -> bytes:
        self._arm()
        return super().recv(*args)

    def recv_into(self, *args: Any) -> int:
        self._arm()
        return super().recv_into(*args)

    def send(self, *args: Any) -> int:
        self._arm()
        return super().send(*args)

    def sendall(self, *args: Any) -> None:
        self._arm()
        return super().sendall(*args)


class _DeadlineConnection(HTTPConnection):
    def _new_conn(self) -> socket.socket:
        plain = super()._new_conn()
        timeout = plain.gettimeout()
        wrapped = _DeadlineSocket(plain.family, plain.type, plain.proto, fileno=plain.detach())
        wrapped.settimeout(timeout)
        return wrapped


class _DeadlinePool(HTTPConnectionPool):
    ConnectionCls = _DeadlineConnection


class DeadlineAdapter(HTTPAdapter):
    """A ``requests`` adapter whose ``http://`` connections honour ``call_deadline``."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            **self.poolmanager.pool_classes_by_scheme,
            "http": _DeadlinePool,
        }
