"""One writer per output folder: an exclusive ``flock`` on the folder itself.

The lock is taken on the folder's own file descriptor, so nothing is written into
the folder a person will post (no lock file to leak that it was marked), it holds
across stores and processes, and the kernel releases it when the process dies.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from collections.abc import Iterator
from pathlib import Path

from marks.errors import MarkingError


class OutFolderBusyError(MarkingError):
    """Another run is writing into the same output folder."""


@contextlib.contextmanager
def locked_out_dir(out: Path) -> Iterator[bool]:
    """Create ``out`` if needed and hold an exclusive lock on it; yields whether it was created.

    Raises ``OutFolderBusyError`` at once (no waiting) when another process holds it.
    A folder created here and left empty is removed again when the block fails.
    """
    created = False
    try:
        out.mkdir(parents=True)
        created = True
    except FileExistsError:
        pass
    fd = os.open(out, os.O_RDONLY | os.O_DIRECTORY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise OutFolderBusyError(
                f"--out {out} is being written by another isotope run right now; "
                "wait for it to finish (or stop it) instead of writing into the same folder"
            ) from None
        try:
            yield created
        except BaseException:
            if created:
                with contextlib.suppress(OSError):
                    out.rmdir()  # only succeeds when nothing was written
            raise
    finally:
        os.close(fd)  # closing the descriptor releases the lock
