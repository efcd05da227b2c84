"""Turning SIGINT, SIGTERM and SIGHUP into an orderly stop of a long run.

Inside ``SignalGuard`` the first such signal that arrives while work runs (``guard.work()``)
raises ``StopRequested`` in the main thread, so the run can let its workers finish their
current file and record what was written. Any other signal — a second kill during that
cleanup, or one while the record is saved — is only noted, and delivered again to the
previous handlers when the guard exits: a ``kill`` still ends the process, but never
halfway through a manifest. Outside the main thread the guard does nothing (Python runs
signal handlers there only).
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator
from types import TracebackType

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


class StopRequested(KeyboardInterrupt):
    """A stop signal arrived; ``signum`` says which. A ``KeyboardInterrupt`` for callers."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


class SignalGuard:
    """Installs the handlers on enter and restores the previous ones on exit."""

    def __init__(self) -> None:
        self._active = threading.current_thread() is threading.main_thread()
        self._raising = False
        self._noted: list[int] = []
        self._previous: dict[int, object] = {}

    def __enter__(self) -> SignalGuard:
        if self._active:
            for signum in STOP_SIGNALS:
                self._previous[signum] = signal.signal(signum, self._handle)
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        for signum, old in self._previous.items():
            signal.signal(signum, old)  # type: ignore[arg-type]
        for signum in dict.fromkeys(self._noted):
            signal.raise_signal(signum)

    @contextlib.contextmanager
    def work(self) -> Iterator[None]:
        """The first stop signal inside this block raises ``StopRequested``."""
        self._raising = True
        try:
            yield
        finally:
            self._raising = False

    def _handle(self, signum: int, _frame: object) -> None:
        if self._raising:
            self._raising = False  # one stop is enough; later ones wait for the exit
            raise StopRequested(signum)
        self._noted.append(signum)
