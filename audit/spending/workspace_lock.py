"""One audit per workspace at a time: an exclusive lock beside its ledger.

Two audits sharing a workspace would both miss the same replies in the ledger and
both pay for them. The first to open the ledger takes ``flock`` on ``ledger.sqlite.lock``
(holding its process id, for the message); a second process is refused at once. Ledgers
opened again inside the same process (the label proposal, then the audit) share the
lock. The kernel releases it when the process ends, however it ends.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
from pathlib import Path

from audit.errors import WorkspaceBusyError

_held: dict[Path, tuple[int, int]] = {}  # lock path -> (descriptor, users in this process)
_guard = threading.Lock()


def acquire(ledger: Path) -> Path:
    """Hold the lock of the ledger file ``ledger``; returns the lock's path for ``release``.

    Raises ``WorkspaceBusyError`` naming the workspace and the process that holds it.
    """
    path = Path(str(ledger) + ".lock").resolve()
    with _guard:
        if path in _held:
            fd, users = _held[path]
            _held[path] = (fd, users + 1)
            return path
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise WorkspaceBusyError(
                f"workspace {path.parent} is in use by another audit (process {holder}): "
                "two audits sharing a ledger would both pay for the same queries; wait for "
                "it to finish, or give this one its own --workspace"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        _held[path] = (fd, 1)
        return path


def release(path: Path) -> None:
    """Let go of one hold on ``path`` (from ``acquire``); the last one unlocks it."""
    with _guard:
        if path not in _held:
            return
        fd, users = _held[path]
        if users > 1:
            _held[path] = (fd, users - 1)
            return
        del _held[path]
        with contextlib.suppress(OSError):
            os.close(fd)  # closing the descriptor releases the flock
