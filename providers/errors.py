"""Typed provider errors. Adapters raise these; ``providers.retry`` decides what to retry."""

from __future__ import annotations


class ProviderError(Exception):
    """A service call failed. ``operation`` names what was being done (e.g. "vertex predict")."""

    def __init__(self, message: str, *, provider: str, operation: str) -> None:
        super().__init__(f"{operation}: {message}")
        self.provider = provider
        self.operation = operation


class TransientError(ProviderError):
    """Worth retrying: 429, 5xx, timeouts, dropped connections, throttling."""

    def __init__(
        self, message: str, *, provider: str, operation: str, retry_after: float | None = None
    ) -> None:
        super().__init__(message, provider=provider, operation=operation)
        self.retry_after = retry_after


class RateLimitedError(TransientError):
    """The service said to slow down (HTTP 429, ThrottlingException)."""


class PermanentError(ProviderError):
    """Retrying cannot help: bad request, auth, unknown endpoint."""


class BadImageError(PermanentError):
    """The service rejected an image (format, size, no face...)."""


class BadReplyError(PermanentError):
    """The service answered something we cannot parse or trust (missing labels, NaN...)."""


class MissingExtraError(ImportError):
    """An adapter's SDK is not installed; the message names the pip extra."""

    def __init__(self, provider: str, extra: str) -> None:
        super().__init__(
            f"the {provider} adapter needs its SDK: pip install 'isotope-audit[{extra}]'"
        )
