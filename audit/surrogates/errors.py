"""Errors of the surrogate flow: bad input, exit status 2 like every ``AuditInputError``."""

from __future__ import annotations

from audit.errors import AuditInputError


class SurrogateError(AuditInputError):
    """Surrogates cannot be trained or used as asked; the message says why and what to do."""
