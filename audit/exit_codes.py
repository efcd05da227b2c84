"""The exit codes of every ``isotope`` command, defined once."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """What a command's exit status means."""

    FINISHED = 0  # the command did its work (an audit: any verdict)
    PROVIDER = 1  # a service call failed
    BAD_INPUT = 2  # bad input, or some files could not be processed
    BUDGET = 3  # the budget ran out before a decision
    BUG = 70  # an unexpected exception: a bug in isotope-audit (EX_SOFTWARE)
    INTERRUPTED = 130  # Ctrl-C (the shell's code for SIGINT)

    @property
    def kind(self) -> str:
        """The ``kind`` of a ``--json`` error object."""
        return self.name.lower()
