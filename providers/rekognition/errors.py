"""botocore exceptions as ``providers.errors`` types, so one retry policy can judge them.

botocore is configured not to retry (``providers.rekognition.connection``), so every
throttle, 5xx and dropped connection reaches this translation once and the project's
``RetryPolicy`` decides. Rekognition says "no face in the image" with an
``InvalidParameterException``; ``is_no_face`` tells that reply from a real bad request.

A call that went out and got no reply — a read timeout or the call's deadline, a
connection closed mid-reply, a body cut off — is ``UnansweredError`` (transient, and
counted as spent: Rekognition bills the call). A connection that could not be made
(``providers.http.sent``) and error replies (throttling, 5xx) were not billed.
"""

from __future__ import annotations

from providers.errors import (
    BadImageError,
    PermanentError,
    ProviderError,
    RateLimitedError,
    TransientError,
    UnansweredError,
)
from providers.face_collection import (
    AccessDeniedError,
    CollectionExistsError,
    CollectionNotFoundError,
    InvalidRequestError,
)
from providers.http.sent import never_sent
from providers.retry_after import retry_after_seconds

_RATE_LIMITED = {
    "ThrottlingException",
    "ProvisionedThroughputExceededException",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "SlowDown",
}
_TRANSIENT = {"InternalServerError", "ServiceUnavailable", "ServiceUnavailableException"}
_ACCESS = {
    "AccessDeniedException",
    "UnrecognizedClientException",
    "InvalidSignatureException",
    "SignatureDoesNotMatch",
    "InvalidClientTokenId",
    "ExpiredTokenException",
    "ExpiredToken",
    "MissingAuthenticationTokenException",
    "IncompleteSignature",
}
_BAD_IMAGE = {"ImageTooLargeException", "InvalidImageFormatException"}
_INVALID = {
    "InvalidParameterException",
    "ValidationException",
    "InvalidPaginationTokenException",
}


class RegionError(PermanentError):
    """No AWS region was given, or Rekognition is not offered in it."""


def is_no_face(exc: BaseException) -> bool:
    """True for Rekognition's "There are no faces in the image" reply."""
    from botocore.exceptions import ClientError

    if not isinstance(exc, ClientError):
        return False
    error = exc.response.get("Error", {})
    message = str(error.get("Message", "")).lower()
    return error.get("Code") == "InvalidParameterException" and "no faces" in message


def _client_error(exc: BaseException, *, provider: str, operation: str) -> ProviderError:
    response = getattr(exc, "response", {}) or {}
    error = response.get("Error", {})
    code = str(error.get("Code", ""))
    message = f"{code or 'error'}: {error.get('Message', '') or exc}"
    meta = response.get("ResponseMetadata", {})
    status = int(meta.get("HTTPStatusCode", 0) or 0)
    # Rekognition sends no Retry-After; a proxy in front of it may.
    headers = meta.get("HTTPHeaders")
    retry_after = retry_after_seconds(headers) if isinstance(headers, dict) else None
    if code in _RATE_LIMITED or status == 429:
        return RateLimitedError(
            message, provider=provider, operation=operation, retry_after=retry_after
        )
    if code in _TRANSIENT or status >= 500:
        return TransientError(
            message, provider=provider, operation=operation, retry_after=retry_after
        )
    if code == "ResourceNotFoundException":
        return CollectionNotFoundError(message, provider=provider, operation=operation)
    if code == "ResourceAlreadyExistsException":
        return CollectionExistsError(message, provider=provider, operation=operation)
    if code in _ACCESS or status in (401, 403):
        return AccessDeniedError(message, provider=provider, operation=operation)
    if code in _BAD_IMAGE:
        return BadImageError(message, provider=provider, operation=operation)
    if code in _INVALID:
        return InvalidRequestError(message, provider=provider, operation=operation)
    return PermanentError(message, provider=provider, operation=operation)


def translate(exc: BaseException, *, provider: str, operation: str) -> ProviderError | None:
    """The ``providers.errors`` type for an exception raised by a boto3 call, or None.

    Throttling (``ThrottlingException``, ``ProvisionedThroughputExceededException``,
    HTTP 429) becomes ``RateLimitedError``; 5xx and connections that could not be made
    ``TransientError``; timeouts and replies lost after the request went out
    ``UnansweredError``; unknown collection, existing collection, access and
    credential failures, a missing or unknown region, refused images and invalid
    parameters their ``PermanentError`` subclasses. None for an exception that does not
    come from botocore: that is a bug, and the caller re-raises it unchanged.
    """
    if isinstance(exc, ProviderError):
        return exc
    from botocore import exceptions as bexc

    message = f"{type(exc).__name__}: {exc}"
    if isinstance(exc, bexc.ClientError):
        return _client_error(exc, provider=provider, operation=operation)
    if isinstance(exc, bexc.NoRegionError | bexc.InvalidRegionError | bexc.UnknownEndpointError):
        return RegionError(message, provider=provider, operation=operation)
    credentials = (
        bexc.NoCredentialsError,
        bexc.PartialCredentialsError,
        bexc.CredentialRetrievalError,
        bexc.TokenRetrievalError,
        bexc.SSOError,
        bexc.NoAuthTokenError,
    )
    if isinstance(exc, credentials):
        return AccessDeniedError(
            f"{message} (credentials come from the AWS standard chain: environment, "
            "shared profile, SSO, instance or container role)",
            provider=provider,
            operation=operation,
        )
    if isinstance(exc, bexc.SSLError):
        return PermanentError(
            f"{message} (TLS failed: check the endpoint URL)",
            provider=provider,
            operation=operation,
        )
    import urllib3.exceptions as u3

    # Timeouts, refused or dropped connections, replies cut off mid-body (botocore reads
    # the body after sending, so urllib3's own errors reach here unwrapped).
    lost = (bexc.HTTPClientError, bexc.ConnectionError, bexc.IncompleteReadError, u3.HTTPError)
    if isinstance(exc, (*lost, TimeoutError, ConnectionError)):
        kind = TransientError if never_sent(exc) else UnansweredError
        return kind(message, provider=provider, operation=operation)
    if isinstance(exc, bexc.ParamValidationError):
        return InvalidRequestError(message, provider=provider, operation=operation)
    if isinstance(exc, bexc.BotoCoreError):
        return PermanentError(message, provider=provider, operation=operation)
    return None
