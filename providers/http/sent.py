"""Whether a failed HTTP call may have reached the service (and been billed).

A call that failed while connecting (refused, unreachable, a name that does not
resolve, a connect timeout) sent nothing. Any other transport failure — a read
timeout, a connection reset or closed mid-reply, a reply cut off — happened after the
request went out: the service may have processed it, and a paid service bills it.

SDKs wrap urllib3's errors in their own (requests, azure-core, botocore), sometimes
under a misleading name (azure-core calls a read timeout while the body is read a
"request" error), so the whole chain of causes is searched for a connect-phase error.
"""

from __future__ import annotations

from collections.abc import Iterator

_CONNECT_FAILURES: tuple[type[BaseException], ...] = (ConnectionRefusedError,)


def _connect_failures() -> tuple[type[BaseException], ...]:
    import urllib3.exceptions as u3

    found: list[type[BaseException]] = [
        *_CONNECT_FAILURES,
        u3.ConnectTimeoutError,  # NewConnectionError and NameResolutionError too
    ]
    try:
        import requests

        found.append(requests.exceptions.ConnectTimeout)
    except ImportError:  # pragma: no cover - requests comes with every adapter's SDK
        pass
    try:
        from botocore import exceptions as boto

        found += [boto.EndpointConnectionError, boto.ConnectTimeoutError]
    except ImportError:
        pass
    return tuple(found)


def causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc`` and everything it wraps: causes, contexts, and the wrapped errors SDKs
    keep in ``args[0]``, ``reason``, ``error`` or ``inner_exception``."""
    seen: set[int] = set()
    todo: list[object] = [exc]
    while todo:
        item = todo.pop()
        if not isinstance(item, BaseException) or id(item) in seen:
            continue
        seen.add(id(item))
        yield item
        todo += [item.__cause__, item.__context__]
        todo += [getattr(item, name, None) for name in ("reason", "error", "inner_exception")]
        if item.args:
            todo.append(item.args[0])


def never_sent(exc: BaseException) -> bool:
    """True when ``exc`` (from an HTTP call) failed before the request could be sent."""
    failures = _connect_failures()
    return any(isinstance(item, failures) for item in causes(exc))


def lost_after_sending(exc: BaseException) -> bool:
    """True when ``exc`` wraps a failure that only happens once a request went out: a
    read timeout, a connection closed or a body cut off while the reply was read."""
    import urllib3.exceptions as u3

    lost: tuple[type[BaseException], ...] = (
        u3.ReadTimeoutError,
        u3.ProtocolError,
        u3.IncompleteRead,
    )
    try:
        import requests

        lost += (requests.exceptions.ReadTimeout, requests.exceptions.ChunkedEncodingError)
    except ImportError:  # pragma: no cover - requests comes with every adapter's SDK
        pass
    return any(isinstance(item, lost) for item in causes(exc))
