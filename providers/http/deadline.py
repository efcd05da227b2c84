"""An overall deadline for each HTTP call, over plain HTTP and TLS, for any urllib3 client.

An SDK's timeout bounds each socket read, so a server that sends one byte every few
seconds never times out. Here every socket of a connection re-arms its timeout before
each read and write to the smaller of that per-read timeout and the time left before
the calling thread's deadline (``call_deadline``): headers and body together end by the
deadline, with ``TimeoutError`` inside urllib3 (a read timeout to the SDK above it).
Calls outside a ``call_deadline`` block behave exactly as before.

- ``DeadlineAdapter``: a ``requests`` adapter (``mount_deadline`` mounts it on a
  session for ``http://`` and ``https://``) — the Vertex REST transport, azure-core's
  requests transport and the local client all send through ``requests``.
- ``deadline_pool_classes``: the same for a urllib3 ``PoolManager``'s pool classes
  (botocore's connection pools).

Over TLS the reads happen inside OpenSSL, on the ``SSLSocket`` that wraps the plain
socket, so that socket is given the same re-arming after the handshake. Connecting and
the TLS handshake are bounded by the connect timeout, not by the deadline.
"""

from __future__ import annotations

import contextlib
import socket
import ssl
import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any

import requests
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from providers.errors import ProviderError, UnansweredError

_state = threading.local()


def _deadline() -> float | None:
    return getattr(_state, "deadline", None)


def time_left() -> float | None:
    """Seconds before the calling thread's deadline (None outside ``call_deadline``)."""
    deadline = _deadline()
    return None if deadline is None else deadline - time.monotonic()


@contextlib.contextmanager
def call_deadline(seconds: float) -> Iterator[float]:
    """Calls in this thread inside the block must finish within ``seconds``; yields the
    deadline (``time.monotonic()`` based). Nested blocks keep the earlier deadline."""
    outer = _deadline()
    deadline = time.monotonic() + seconds
    if outer is not None:
        deadline = min(deadline, outer)
    _state.deadline = deadline
    try:
        yield deadline
    finally:
        _state.deadline = outer


class _Rearming:
    """Re-arms a socket's timeout before each blocking call (mixed into socket classes)."""

    _per_call: float | None = None

    def settimeout(self, value: float | None) -> None:
        self._per_call = value  # the client's per-read timeout; the deadline may shorten it
        super().settimeout(value)  # type: ignore[misc]

    def _arm(self) -> None:
        left = time_left()
        if left is None:
            return
        if left <= 0:
            raise TimeoutError("the call's overall deadline passed")
        per_call = self._per_call
        super().settimeout(left if per_call is None else min(per_call, left))  # type: ignore[misc]

    def recv(self, *args: Any) -> bytes:
        self._arm()
        return super().recv(*args)  # type: ignore[misc]

    def recv_into(self, *args: Any) -> int:
        self._arm()
        return super().recv_into(*args)  # type: ignore[misc]

    def send(self, *args: Any) -> int:
        self._arm()
        return super().send(*args)  # type: ignore[misc]

    def sendall(self, *args: Any) -> None:
        self._arm()
        return super().sendall(*args)  # type: ignore[misc]


class _DeadlineSocket(_Rearming, socket.socket):
    """A plain socket whose blocking calls end by the calling thread's deadline."""


class _DeadlineSSLSocket(_Rearming, ssl.SSLSocket):
    """A TLS socket whose blocking calls end by the calling thread's deadline."""


def _rearming(plain: socket.socket) -> socket.socket:
    timeout = plain.gettimeout()
    wrapped = _DeadlineSocket(plain.family, plain.type, plain.proto, fileno=plain.detach())
    wrapped.settimeout(timeout)
    return wrapped


def deadline_connection(base: type[HTTPConnection]) -> type[HTTPConnection]:
    """A subclass of the urllib3 connection class ``base`` whose sockets honour
    ``call_deadline`` (plain sockets when made, TLS sockets once the handshake is done)."""

    class DeadlineConnection(base):  # type: ignore[valid-type,misc]
        def _new_conn(self) -> socket.socket:
            return _rearming(super()._new_conn())

        def connect(self) -> None:
            super().connect()
            sock = self.sock
            if type(sock) is ssl.SSLSocket:
                # The SSLSocket was built by urllib3 around the plain socket's descriptor;
                # same layout, so it can take the re-arming subclass in place.
                timeout = sock.gettimeout()
                sock.__class__ = _DeadlineSSLSocket
                sock.settimeout(timeout)

    DeadlineConnection.__name__ = f"Deadline{base.__name__}"
    DeadlineConnection.__qualname__ = DeadlineConnection.__name__
    return DeadlineConnection


def deadline_pool(base: type[HTTPConnectionPool]) -> type[HTTPConnectionPool]:
    """A subclass of the urllib3 pool class ``base`` making deadline-aware connections."""
    connection = deadline_connection(base.ConnectionCls)  # type: ignore[arg-type]
    return type(f"Deadline{base.__name__}", (base,), {"ConnectionCls": connection})


def deadline_pool_classes(
    classes: Mapping[str, type[HTTPConnectionPool]],
) -> dict[str, type[HTTPConnectionPool]]:
    """``classes`` (a ``PoolManager``'s ``pool_classes_by_scheme``) made deadline-aware."""
    return {scheme: deadline_pool(pool) for scheme, pool in classes.items()}


_DEFAULT_POOLS = deadline_pool_classes({"http": HTTPConnectionPool, "https": HTTPSConnectionPool})


class DeadlineAdapter(HTTPAdapter):
    """A ``requests`` adapter whose connections honour ``call_deadline``, through an
    HTTP(S) proxy too (a SOCKS proxy's connections keep the per-read timeout only)."""

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = {
            **self.poolmanager.pool_classes_by_scheme,
            **_DEFAULT_POOLS,
        }

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if not proxy.lower().startswith("socks"):
            manager.pool_classes_by_scheme = {**manager.pool_classes_by_scheme, **_DEFAULT_POOLS}
        return manager


def mount_deadline(session: requests.Session, adapter: HTTPAdapter | None = None) -> None:
    """Mount ``adapter`` (a new ``DeadlineAdapter`` by default; pass one to keep its pool
    size and retry settings) on ``session`` for both schemes."""
    adapter = adapter if adapter is not None else DeadlineAdapter()
    session.mount("https://", adapter)
    session.mount("http://", adapter)


DEADLINE_PER_TIMEOUT = 4
"""An adapter's default overall deadline, in per-read timeouts: room for a slow but
steady reply, never a trickle without end."""


def default_deadline(timeout_s: float) -> float:
    """The default overall deadline of a call whose per-read timeout is ``timeout_s``."""
    return DEADLINE_PER_TIMEOUT * timeout_s


def note_deadline(error: ProviderError, deadline: float, seconds: float) -> ProviderError:
    """``error`` saying that the call's ``seconds``-long deadline passed, when it did.

    The per-read timeout a client reports ("read timeout=30") is not what stopped a
    reply that trickled in until its deadline; ``deadline`` is what ``call_deadline``
    yielded. Only ``UnansweredError`` is rewritten (nothing else can be late).
    """
    if not isinstance(error, UnansweredError) or time.monotonic() < deadline:
        return error
    detail = str(error).removeprefix(f"{error.operation}: ")
    return UnansweredError(
        f"no complete reply within the call's {seconds:g} s deadline ({detail})",
        provider=error.provider,
        operation=error.operation,
    )
