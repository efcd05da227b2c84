"""Status codes and transport failures as ``providers.errors`` types, without a server."""

from __future__ import annotations

import pytest
from azure.core.exceptions import (
    DecodeError,
    HttpResponseError,
    IncompleteReadError,
    ServiceRequestError,
    ServiceResponseError,
    ServiceResponseTimeoutError,
)
from urllib3.exceptions import NewConnectionError, ReadTimeoutError

from providers.azure.credentials import key_auth
from providers.azure.errors import ErrorTranslator
from providers.errors import (
    BadImageError,
    PermanentError,
    RateLimitedError,
    TransientError,
    UnansweredError,
)

ENDPOINT = "https://name.cognitiveservices.azure.com"
OP = f"azure analyze {ENDPOINT}"


def _translator() -> ErrorTranslator:
    return ErrorTranslator(ENDPOINT, key_auth("k-123456", source="$VISION_KEY"), "2023-10-01")


def _status(status: int, message: str = "refused") -> HttpResponseError:
    exc = HttpResponseError(message=message)
    exc.status_code = status
    return exc


@pytest.mark.parametrize(
    ("exc", "kind", "says"),
    [
        (_status(429), RateLimitedError, "HTTP 429"),
        (_status(408), TransientError, "HTTP 408"),
        (_status(500), TransientError, "HTTP 500"),
        (_status(502), TransientError, "HTTP 502"),
        (_status(503), TransientError, "HTTP 503"),
        (_status(401), PermanentError, "Keys and Endpoint"),
        (_status(403, "Out of call volume quota"), PermanentError, "Out of call volume quota"),
        (_status(404), PermanentError, "no Image Analysis API at " + ENDPOINT),
        (_status(307), PermanentError, "redirects are not followed"),
        (_status(400, "The image size is not allowed"), BadImageError, "refused the image"),
        (_status(400, "Unsupported language"), PermanentError, "HTTP 400"),
        (_status(415), PermanentError, "HTTP 415"),
        # Nothing was sent: not billed.
        (ServiceRequestError("connection refused"), TransientError, "connection refused"),
        (
            ServiceResponseError("refused", error=NewConnectionError(None, "refused")),
            TransientError,
            "refused",
        ),
        # Sent, and no usable reply came back: billed all the same, and retried.
        (ServiceResponseTimeoutError("read timed out"), UnansweredError, "read timed out"),
        (
            ServiceRequestError("body", error=ReadTimeoutError(None, "/", "read timed out")),
            UnansweredError,
            "body",
        ),
        (IncompleteReadError("cut off"), UnansweredError, "IncompleteReadError"),
        (HttpResponseError(message="Response ended prematurely"), UnansweredError, "prematurely"),
        # A garbled body: the same request asked again gets a whole reply.
        (DecodeError("JSON is invalid"), UnansweredError, "not valid JSON"),
    ],
)
def test_translation(exc, kind, says):
    out = _translator().translate(exc, operation=OP)
    assert type(out) is kind
    assert out.provider == "azure" and out.operation == OP
    assert str(out).startswith(f"{OP}: ") and says in str(out)


def test_only_sdk_errors_are_translated():
    with pytest.raises(TypeError, match="not an Azure SDK error"):
        _translator().translate(KeyError("a bug"), operation=OP)
