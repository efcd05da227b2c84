"""Reading input files safely: regular files only, and never more than a stated size.

A FIFO would block ``open`` until someone writes to it, and ``/dev/zero`` (or a
symlink to it) would fill memory, so every file the mark engine reads goes through
``read_regular``: the file is opened without blocking, checked to be a regular file
*after* opening (a path swapped for something else in between is still caught), and
refused when larger than ``MAX_FILE_BYTES``.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from marks.errors import ImageError

# Larger than any image under Pillow's pixel limit (89.5 megapixels stored as
# uncompressed 24-bit RGB take 268 MB), small enough that a mislabelled video or disk
# image is refused instead of read into memory.
MAX_FILE_BYTES = 300_000_000

_KINDS = {
    stat.S_IFIFO: "a FIFO (named pipe)",
    stat.S_IFCHR: "a character device",
    stat.S_IFBLK: "a block device",
    stat.S_IFSOCK: "a socket",
    stat.S_IFDIR: "a folder",
}  # anything else that is not a regular file is "a special file"


def file_kind(mode: int) -> str:
    """A short description of what kind of file ``mode`` (``st_mode``) belongs to."""
    return _KINDS.get(stat.S_IFMT(mode), "a special file")


def read_regular(path: Path | str, *, max_bytes: int = MAX_FILE_BYTES) -> bytes:
    """The bytes of ``path`` if it is a regular file of at most ``max_bytes`` bytes.

    Symlinks are followed (a link to a photo is fine; a link to ``/dev/zero`` is not).
    Raises ``ImageError`` naming the path for a special file (FIFO, device, socket,
    folder), a file over the limit, or one that cannot be read.
    """
    try:
        # O_NONBLOCK: opening a FIFO with no writer must not wait for one.
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_NOCTTY | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise ImageError(path, f"cannot read file ({exc.strerror or exc})") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ImageError(
                path, f"cannot read {file_kind(info.st_mode)}: only regular files are read"
            )
        if info.st_size > max_bytes:
            raise ImageError(
                path, f"file is {info.st_size} bytes, over the {max_bytes}-byte limit for one image"
            )
        chunks = []
        total = 0
        # Usually one read returns the whole file; asking for one byte past its size
        # (and past the limit) shows a file that grows while it is read.
        want = info.st_size + 1
        while True:
            chunk = os.read(fd, min(want, max_bytes + 1 - total))
            if not chunk:
                break
            chunks.append(chunk)
            total += len(chunk)
            if total > max_bytes:
                raise ImageError(path, f"file grew past the {max_bytes}-byte limit while read")
            want = 1 << 20
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)
    except OSError as exc:
        raise ImageError(path, f"cannot read file ({exc.strerror or exc})") from None
    finally:
        os.close(fd)
