"""Typed audit errors: one root, ``AuditError``, beside ``marks.errors.MarkEngineError``
and ``providers.errors.ProviderError``.

The CLI maps each root to an exit code (``audit.exit_codes``): ``BudgetExhausted`` to
"budget spent", every other ``AuditError`` to "bad input". Anything else that escapes
a command is a bug and is reported as one.
"""

from __future__ import annotations


class AuditError(Exception):
    """An audit cannot go on as asked; the message says what and where."""


class AuditInputError(AuditError, ValueError):
    """Bad input to an audit: an option, a folder, a label, a price file."""


class VerifierOptionError(AuditInputError):
    """A verifier option is out of range or does not fit the audit's data."""


class BudgetTooSmallError(AuditInputError):
    """The budget cannot pay for even one round of the chosen method."""


class UnknownLabelError(AuditInputError):
    """The audited label is not one the model knows."""


class ExternalTooCloseError(AuditInputError):
    """An external mark is identical to, or too close to, a mark being audited."""


class ReportError(AuditError):
    """A report could not be written where asked."""


class LedgerError(AuditError):
    """The workspace's ledger cannot be read or written (damaged, foreign, disk full);
    the message names the file, and what is already recorded is kept."""


class WorkspaceBusyError(AuditError):
    """Another audit is using the workspace (its ledger) right now."""


class BudgetExhausted(AuditError):
    """The query or money budget cannot pay for the next request."""
