"""Atomic file writes: a temporary file in the same folder, then ``os.replace``.

A reader never sees a half-written file, and an interrupted run leaves either the old
file or the new one. Temporary names start with ``.`` and end in ``.tmp``.
``write_exclusive`` is the same for a file that must not exist yet: the finished
temporary file is hard-linked to its name, which fails if another writer got there first.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path


def _write_temporary(path: Path, data: bytes, mode: int, fsync: bool) -> Path:
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    # O_EXCL + explicit mode: the file is never visible with looser permissions.
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            if fsync:
                fh.flush()
                os.fsync(fh.fileno())
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    return tmp


def write_atomic(path: Path, data: bytes, *, mode: int = 0o644, fsync: bool = False) -> None:
    """Write ``data`` to ``path`` atomically, created with ``mode`` (less the umask).

    ``fsync`` also flushes to disk before the rename (used for manifests and marks,
    not for every image: the rename alone already keeps readers safe).
    """
    path = Path(path)
    tmp = _write_temporary(path, data, mode, fsync)
    try:
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_exclusive(path: Path, data: bytes, *, mode: int = 0o600, fsync: bool = True) -> None:
    """Create ``path`` holding ``data``, complete or not at all; ``FileExistsError`` if it exists.

    Two processes racing for one name: exactly one succeeds, and the file always holds
    one writer's complete data.
    """
    path = Path(path)
    tmp = _write_temporary(path, data, mode, fsync)
    try:
        os.link(tmp, path)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
    if fsync:
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
