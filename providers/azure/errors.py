"""Azure SDK errors as ``providers.errors`` types, so the project's one retry policy judges them.

azure-core raises ``HttpResponseError`` (with ``status_code``) for an error reply,
``ServiceRequestError``/``ServiceResponseError`` (and their timeout subclasses) when
the connection fails before or during the reply, a status-less ``HttpResponseError``
when a reply is cut off mid-body, ``DecodeError`` for a body that is not JSON, and
``ClientAuthenticationError`` without a status when Entra ID gives no token. Every
message here passes through ``AzureAuth.redact`` so the key can never appear in it.

What was sent is told apart from what was not (``providers.http.sent``): a request
that went out and got no usable reply is ``UnansweredError`` (transient, so retried,
and counted as spent by the budget), because the service bills it — a reply the client
gave up waiting for (a read timeout, the call's deadline), a connection dropped or a
reply cut off mid-body, and a 200 whose body is not JSON (a reply garbled or cut short
on the way: a gateway, a proxy, a connection closed early; the same request asked again
gets a whole reply). A connection that could not be made sent nothing, and error
replies (429, 5xx, 4xx) are not billed. The retry policy bounds the attempts, so a
service that only ever sends garbage still ends in an error.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from providers.azure.credentials import AzureAuth
from providers.azure.sdk import PROVIDER
from providers.errors import (
    BadImageError,
    PermanentError,
    ProviderError,
    RateLimitedError,
    TransientError,
    UnansweredError,
)
from providers.http.sent import lost_after_sending, never_sent
from providers.retry_after import retry_after_seconds

_IMAGE_CODES = ("InvalidImage", "NotSupportedImage")  # prefixes of the service's image codes


def _first_line(text: str, limit: int = 300) -> str:
    line = text.strip().splitlines()[0] if text.strip() else ""
    return line[:limit]


def _service_error(exc: object) -> tuple[str, str | None, str]:
    """(code, innererror code, message) of an error reply, as far as it says."""
    error = getattr(exc, "error", None)
    code = str(getattr(error, "code", None) or getattr(exc, "reason", None) or "")
    message = str(getattr(error, "message", None) or _first_line(str(exc)))
    inner = getattr(error, "innererror", None)
    inner_code = inner.get("code") if isinstance(inner, dict) else None
    return code, (str(inner_code) if inner_code else None), message


def _is_image_error(code: str, inner: str | None, message: str) -> bool:
    if any(c and c.startswith(_IMAGE_CODES) for c in (code, inner)):
        return True
    return inner is None and "image" in message.lower()


@dataclass(frozen=True)
class ErrorTranslator:
    """Turns SDK exceptions from calls to ``endpoint`` into ``providers.errors`` types."""

    endpoint: str
    auth: AzureAuth
    api_version: str

    def translate(
        self, exc: BaseException, *, operation: str, image: str | None = None
    ) -> ProviderError:
        """The ``providers.errors`` type for an exception from ``ImageAnalysisClient.analyze``.

        429 → ``RateLimitedError`` (``retry_after`` from the reply's headers); 408, 5xx
        and connections that could not be made → ``TransientError``; timeouts, dropped
        or cut-off replies and bodies that are not JSON → ``UnansweredError`` (see the
        module docstring); 401/403 → ``PermanentError`` saying what to check; a 400
        about the image → ``BadImageError`` naming ``image`` (a description of what was
        sent); any other azure-core error → ``PermanentError``. Raises ``TypeError``
        for an exception that is not the SDK's (a bug, not a service failure, so it must
        not be reported as one).
        """
        if isinstance(exc, ProviderError):
            return exc
        from azure.core import exceptions as az

        def made(kind: type[ProviderError], message: str) -> ProviderError:
            return kind(self.auth.redact(message), provider=PROVIDER, operation=operation)

        if isinstance(exc, json.JSONDecodeError):
            return made(
                UnansweredError, f"the reply is not JSON ({exc.msg} at character {exc.pos})"
            )
        if isinstance(exc, az.DecodeError) and not isinstance(exc, az.IncompleteReadError):
            return made(UnansweredError, f"the reply is not valid JSON ({_first_line(str(exc))})")
        status = getattr(exc, "status_code", None)
        if isinstance(exc, az.HttpResponseError) and isinstance(status, int):
            return self._from_status(exc, status, operation, image)
        if isinstance(exc, az.ClientAuthenticationError):
            return made(
                PermanentError,
                f"no Microsoft Entra ID token ({type(exc).__name__}: {_first_line(str(exc))}); "
                "sign in (az login, a managed identity, or AZURE_CLIENT_ID/AZURE_TENANT_ID/"
                f"AZURE_CLIENT_SECRET) or set {self.auth.key_env} to the resource's key",
            )
        if isinstance(exc, az.ServiceRequestError | az.ServiceResponseError | az.HttpResponseError):
            # Connection refused or reset, timeouts, and replies cut off mid-body. A
            # "request" error means nothing was sent, except that azure-core files a read
            # timeout while the body is read there too: the causes tell.
            if isinstance(exc, az.ServiceRequestError):
                sent = lost_after_sending(exc)
            else:
                sent = not never_sent(exc)
            kind = UnansweredError if sent else TransientError
            return made(kind, f"{type(exc).__name__}: {_first_line(str(exc))}")
        if isinstance(exc, az.AzureError):
            return made(PermanentError, f"{type(exc).__name__}: {_first_line(str(exc))}")
        raise TypeError(f"not an Azure SDK error: {type(exc).__name__}") from exc

    def _from_status(
        self, exc: BaseException, status: int, operation: str, image: str | None
    ) -> ProviderError:
        code, inner, message = _service_error(exc)
        label = inner or code
        named = f" {label}" if label and label != str(status) else ""
        said = self.auth.redact(f"HTTP {status}{named}: {message}")
        headers = getattr(getattr(exc, "response", None), "headers", None) or {}
        retry_after = retry_after_seconds(headers)
        where = {"provider": PROVIDER, "operation": operation}
        if status == 429:
            return RateLimitedError(f"rate limited ({said})", retry_after=retry_after, **where)
        if status == 408 or status >= 500:
            return TransientError(f"service error ({said})", retry_after=retry_after, **where)
        if status in (401, 403):
            return PermanentError(
                f"the service refused the credentials ({said}); check that "
                f"{self.auth.advice()}, and that {self.endpoint} is that resource's endpoint "
                "(a key works only for its own resource and region)",
                **where,
            )
        if status == 400 and _is_image_error(code, inner, message):
            what = f" ({image})" if image is not None else ""
            return BadImageError(f"the service refused the image{what}: {said}", **where)
        if status == 404:
            return PermanentError(
                f"no Image Analysis API at {self.endpoint} ({said}); check the endpoint "
                f"(https://NAME.cognitiveservices.azure.com) and api-version {self.api_version}",
                **where,
            )
        if 300 <= status < 400:
            return PermanentError(
                f"the endpoint redirected ({said}); redirects are not followed because they "
                "would carry the key elsewhere: give the final URL as the target",
                **where,
            )
        return PermanentError(said, **where)
