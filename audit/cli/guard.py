"""How CLI commands report an expected failure: one line on stderr, the documented exit
code, and with ``--json`` one JSON object on stdout saying what kind of failure it was.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console
from rich.text import Text

from providers.errors import MissingExtraError, ProviderError

# Mirrors audit.runner.run's codes; that module (scipy, matplotlib) loads only when a
# command runs, so ``isotope --help`` stays fast.
EXIT_PROVIDER = 1
EXIT_BAD_INPUT = 2
EXIT_BUDGET = 3
_KINDS = {EXIT_PROVIDER: "provider", EXIT_BAD_INPUT: "bad_input", EXIT_BUDGET: "budget"}
_err = Console(stderr=True)


def fail(message: str, code: int, as_json: bool) -> typer.Exit:
    """Print ``message`` as an error (and as JSON with ``as_json``); the exit to raise."""
    # Text, not markup: a message may hold brackets (e.g. "[prices]") that are not styles.
    _err.print(Text.assemble(("error: ", "red"), message), highlight=False, soft_wrap=True)
    if as_json:
        kind = _KINDS.get(code, "error")
        print(json.dumps({"error": message, "kind": kind, "exit_code": code}))
    return typer.Exit(code)


@contextmanager
def guarded(as_json: bool, *, bad_input: tuple[type[Exception], ...] = ()) -> Iterator[None]:
    """Provider errors exit 1; ``ValueError``, ``OSError``, a missing extra and
    ``bad_input`` exit 2; each with a one-line message instead of a traceback.
    """
    try:
        yield
    except typer.Exit:
        raise
    except ProviderError as exc:
        raise fail(str(exc), EXIT_PROVIDER, as_json) from None
    except (ValueError, MissingExtraError, OSError, *bad_input) as exc:
        raise fail(str(exc), EXIT_BAD_INPUT, as_json) from None
