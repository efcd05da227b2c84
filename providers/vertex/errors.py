"""Google API errors as ``providers.errors`` types, so one retry policy can judge them.

Over REST, HTTP 429 arrives as ``google.api_core.exceptions.TooManyRequests`` (its gRPC
twin is ``ResourceExhausted``); timeouts and dropped connections arrive as ``requests``
exceptions, not API errors, because the SDK's REST transport does not wrap them.

What was sent is told apart from what was not (``providers.http.sent``): a request that
went out and got no usable reply — a read timeout or the call's deadline, a connection
dropped mid-reply, a gRPC call past its deadline (``DEADLINE_EXCEEDED``), a 200 whose
body is not JSON — is ``UnansweredError``: the service may have run the prediction and
billed it, so budgets count it; it is retried like any transient error. A connection
that could not be made, and error replies (429, 5xx, a gateway's 504 included), were
not billed.
"""

from __future__ import annotations

import json

from providers.errors import (
    BadImageError,
    PermanentError,
    ProviderError,
    RateLimitedError,
    TransientError,
    UnansweredError,
)
from providers.http.sent import never_sent
from providers.retry_after import retry_after_seconds

PROVIDER = "vertex"


def _retry_after(exc: BaseException) -> float | None:
    response = getattr(exc, "response", None)
    headers = getattr(response, "headers", None)
    return retry_after_seconds(headers) if headers is not None else None


def translate(exc: BaseException, *, operation: str) -> ProviderError:
    """The ``providers.errors`` type for an exception raised by a Vertex AI or GCS call.

    Rate limits become ``RateLimitedError`` (with ``Retry-After`` when the server sent
    one); sent requests without a usable reply ``UnansweredError`` (see the module
    docstring); 5xx, aborted calls and connections that could not be made
    ``TransientError``; a bad request about an image in a predict call
    ``BadImageError``; everything else ``PermanentError``.
    """
    if isinstance(exc, ProviderError):
        return exc
    import requests
    from google.api_core import exceptions as gexc
    from google.protobuf.json_format import ParseError

    message = f"{type(exc).__name__}: {exc}"

    def made(
        kind: type[TransientError], text: str = message, retry_after: float | None = None
    ) -> TransientError:
        return kind(text, provider=PROVIDER, operation=operation, retry_after=retry_after)

    if isinstance(exc, gexc.TooManyRequests | gexc.ResourceExhausted):
        return made(RateLimitedError, retry_after=_retry_after(exc))
    if isinstance(exc, gexc.DeadlineExceeded):
        # gRPC's own deadline (the call's timeout) passed after the request went out.
        return made(UnansweredError)
    if isinstance(exc, gexc.ServerError):  # 500, 502, 503 and their gRPC twins
        return made(TransientError, retry_after=_retry_after(exc))
    if isinstance(exc, gexc.Aborted | gexc.RetryError):
        return made(TransientError)
    transport = (
        requests.exceptions.Timeout,
        requests.exceptions.ConnectionError,
        requests.exceptions.ChunkedEncodingError,
        ConnectionError,
        TimeoutError,
    )
    if isinstance(exc, transport):
        return made(TransientError if never_sent(exc) else UnansweredError)
    if isinstance(exc, ParseError | json.JSONDecodeError):
        # A body that is not JSON at all is a reply garbled or cut short on the way; the
        # prediction behind it was made (and billed), and asking again gets a whole one.
        return made(UnansweredError, f"malformed JSON reply ({message})")
    # Only a predict request carries images; elsewhere "image" names a dataset type.
    if isinstance(exc, gexc.BadRequest) and "predict" in operation and "image" in str(exc).lower():
        return BadImageError(message, provider=PROVIDER, operation=operation)
    return PermanentError(message, provider=PROVIDER, operation=operation)
