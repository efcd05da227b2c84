"""The one error guard every ``isotope`` command runs in.

Expected failures become one line on stderr (and, with ``--json``, one JSON object on
stdout: ``{"error", "kind", "exit_code"}``) with the documented exit code:

- ``providers.errors.ProviderError`` (a service call failed) → ``ExitCode.PROVIDER``;
- ``audit.errors.BudgetExhausted`` → ``ExitCode.BUDGET``;
- ``audit.errors.AuditError``, ``marks.errors.MarkEngineError``,
  ``providers.errors.ProviderConfigError`` and ``UsageError`` → ``ExitCode.BAD_INPUT``;
- an ``OSError`` the machine raised about a named file (full disk, no permission) →
  ``ExitCode.BAD_INPUT``, naming the file;
- Ctrl-C → ``ExitCode.INTERRUPTED``; so does ``marks.errors.MarkingInterrupted`` (a
  marking stopped by Ctrl-C, SIGTERM or SIGHUP, its partial manifest saved).

Anything else is a bug in isotope-audit: the traceback is printed with a line saying
so, and the exit code is ``ExitCode.BUG``, never "bad input".
"""

from __future__ import annotations

import errno
import json
import sys
import traceback
from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console
from rich.text import Text

from audit.errors import AuditError, BudgetExhausted
from audit.exit_codes import ExitCode
from marks.errors import MarkEngineError, MarkingInterrupted
from providers.errors import ProviderConfigError, ProviderError

_err = Console(stderr=True, soft_wrap=True)
_SYSTEM_ERRNOS = {
    errno.ENOSPC,
    errno.EDQUOT,
    errno.EROFS,
    errno.EACCES,
    errno.EPERM,
    errno.ENOENT,
    errno.EISDIR,
    errno.ENOTDIR,
    errno.EEXIST,
    errno.EMFILE,
}


class UsageError(Exception):
    """A command's options do not fit together; the message says how to fix them."""


def fail(message: str, code: ExitCode, as_json: bool) -> typer.Exit:
    """Print ``message`` as an error (and as JSON with ``as_json``); the exit to raise."""
    # Text, not markup: a message may hold brackets (e.g. "[prices]") that are not styles.
    _err.print(Text.assemble(("error: ", "red"), message), highlight=False)
    if as_json:
        print(json.dumps({"error": message, "kind": code.kind, "exit_code": int(code)}))
    return typer.Exit(int(code))


def _system_message(exc: OSError) -> str | None:
    if exc.errno not in _SYSTEM_ERRNOS or exc.filename is None:
        return None
    return f"{exc.strerror or exc}: {exc.filename}"


@contextmanager
def guarded(as_json: bool = False) -> Iterator[None]:
    """Run a command's body, mapping failures to messages and exit codes (see above)."""
    try:
        yield
    except typer.Exit:
        raise
    except BudgetExhausted as exc:
        raise fail(str(exc), ExitCode.BUDGET, as_json) from None
    except ProviderError as exc:
        raise fail(str(exc), ExitCode.PROVIDER, as_json) from None
    except MarkingInterrupted as exc:  # a signal stopped it; what was written is recorded
        raise fail(str(exc), ExitCode.INTERRUPTED, as_json) from None
    except (AuditError, MarkEngineError, ProviderConfigError, UsageError) as exc:
        raise fail(str(exc), ExitCode.BAD_INPUT, as_json) from None
    except KeyboardInterrupt:
        interrupted = "interrupted: finished work is on disk; run the command again to resume"
        raise fail(interrupted, ExitCode.INTERRUPTED, as_json) from None
    except OSError as exc:
        system = _system_message(exc)
        if system is None:
            raise _bug(exc, as_json) from None
        raise fail(system, ExitCode.BAD_INPUT, as_json) from None
    except Exception as exc:
        raise _bug(exc, as_json) from None


def _bug(exc: BaseException, as_json: bool) -> typer.Exit:
    traceback.print_exception(exc, file=sys.stderr)
    message = (
        f"unexpected {type(exc).__name__}: {exc}. This is a bug in isotope-audit, not a "
        "problem with your input; please report it with the traceback above"
    )
    return fail(message, ExitCode.BUG, as_json)
