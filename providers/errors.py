"""Typed provider errors, in two families with one root each.

``ProviderError``: a service call failed (exit code 1); ``providers.retry`` retries its
``TransientError`` branch. ``ProviderConfigError``: the provider cannot be set up as asked
(a bad ``--target`` or ``--provider-option``, a missing SDK): bad input (exit code 2).
"""

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


class UnansweredError(TransientError):
    """The request was sent but no reply came back (a timeout, a connection dropped
    mid-reply): the service may have processed it, and billed it. Budgets count it as
    spent; retrying sends it again."""


class PermanentError(ProviderError):
    """Retrying cannot help: bad request, auth, unknown endpoint."""


class BadImageError(PermanentError):
    """The service rejected an image (format, size, no face...)."""


class BadReplyError(PermanentError):
    """The service answered something we cannot parse or trust (missing labels, NaN...)."""


class MixedModelsError(PermanentError):
    """More than one model answers a target's queries (a traffic split between deployed
    models), so an audit's replies would mix models; the message names them."""


class ModelChangedError(PermanentError):
    """A reply came from another model than the one the audit pinned at its start.

    ``pinned`` and ``answered`` are the two identities.
    """

    def __init__(
        self, message: str, *, provider: str, operation: str, pinned: str, answered: str
    ) -> None:
        super().__init__(message, provider=provider, operation=operation)
        self.pinned = pinned
        self.answered = answered


class ProviderConfigError(Exception):
    """The provider cannot be set up as asked; the message says what to change."""


class ProviderOptionError(ProviderConfigError, ValueError):
    """``--target`` or a ``--provider-option`` cannot be used; the message says which."""


class MissingExtraError(ProviderConfigError, ImportError):
    """An adapter's SDK is not installed; the message names the pip extra."""

    def __init__(self, provider: str, extra: str) -> None:
        super().__init__(
            f"the {provider} adapter needs its SDK: pip install 'isotope-audit[{extra}]'"
        )
