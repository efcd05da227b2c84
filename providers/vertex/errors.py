"""Google API errors as ``providers.errors`` types, so one retry policy can judge them.

Over REST, HTTP 429 arrives as ``google.api_core.exceptions.TooManyRequests`` (its gRPC
twin is ``ResourceExhausted``); timeouts and dropped connections arrive as ``requests``
exceptions, not API errors, because the SDK's REST transport does not wrap them.
"""

from __future__ import annotations

import email.utils
import json
import time

from providers.errors import (
    BadImageError,
    PermanentError,
    ProviderError,
    RateLimitedError,
    TransientError,
)

PROVIDER = "vertex"


def retry_after_seconds(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _retry_after(exc: BaseException) -> float | None:
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    if headers is None:
        return None
    return retry_after_seconds(headers.get("Retry-After"))


def translate(exc: BaseException, *, operation: str) -> ProviderError:
    """The ``providers.errors`` type for an exception raised by a Vertex AI or GCS call.

    Rate limits become ``RateLimitedError`` (with ``Retry-After`` when the server sent
    one); 5xx, deadlines, timeouts, connection failures and bodies that are not JSON
    ``TransientError``; a bad request about an image in a predict call
    ``BadImageError``; everything else ``PermanentError``.
    """
    if isinstance(exc, ProviderError):
        return exc
    import requests
    from google.api_core import exceptions as gexc
    from google.protobuf.json_format import ParseError

    message = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, gexc.TooManyRequests | gexc.ResourceExhausted):
        return RateLimitedError(
            message, provider=PROVIDER, operation=operation, retry_after=_retry_after(exc)
        )
    transient = (
        gexc.ServerError,  # 500, 502, 503, 504 and their gRPC twins
        gexc.DeadlineExceeded,
        gexc.Aborted,
        gexc.RetryError,
        requests.exceptions.Timeout,
        requests.exceptions.ConnectionError,
        requests.exceptions.ChunkedEncodingError,
        ConnectionError,
        TimeoutError,
    )
    if isinstance(exc, gexc.ServerError):
        return TransientError(
            message, provider=PROVIDER, operation=operation, retry_after=_retry_after(exc)
        )
    if isinstance(exc, transient):
        return TransientError(message, provider=PROVIDER, operation=operation)
    if isinstance(exc, ParseError | json.JSONDecodeError):
        # A body that is not JSON at all is a garbled transfer (a proxy, a cut-off
        # reply), worth another try; a well-formed reply with wrong content is not.
        return TransientError(
            f"malformed JSON reply ({message})", provider=PROVIDER, operation=operation
        )
    # Only a predict request carries images; elsewhere "image" names a dataset type.
    if isinstance(exc, gexc.BadRequest) and "predict" in operation and "image" in str(exc).lower():
        return BadImageError(message, provider=PROVIDER, operation=operation)
    return PermanentError(message, provider=PROVIDER, operation=operation)
