"""The marking journal: an append-only record, in the store, of every file written to --out.

One journal per output folder (``journals/<sha256 of the folder path>.jsonl``, mode
0600). Its first line holds the run's manifest fields (mark, α, fraction, seed,
options, folders); then one line per output *before* that output is renamed into
place, each flushed to disk (``fdatasync``). So whatever stops a run — a kill, a power
cut, a full or read-only store — every file in --out is described by a line written
before it, and the journal alone tells which files there carry the mark. A last line
cut short by a crash is ignored. Once the final manifest is saved the journal gets a
closing line and is removed.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from marks.errors import StoreError

JOURNAL_VERSION = 1
FILE_MODE = 0o600


class JournalError(StoreError):
    """The journal cannot be written or read; the message names the file and the problem."""


@dataclass(frozen=True)
class Written:
    """One output recorded before it was renamed into ``--out``."""

    source: str  # relative path in the source folder
    output: str  # relative path in --out
    marked: bool
    source_sha256: str
    output_sha256: str

    def to_json(self) -> dict:
        """The manifest's ``files`` entry for this output."""
        return {
            "source": self.source,
            "output": self.output,
            "marked": self.marked,
            "source_sha256": self.source_sha256,
            "output_sha256": self.output_sha256,
        }


@dataclass
class JournalContents:
    """A journal read back: the run's manifest fields and every recorded output, in order."""

    path: Path
    manifest: dict
    writes: list[Written] = field(default_factory=list)
    finished: str | None = None  # the final manifest's path, once saved
    torn_tail: bool = False  # the last line was cut short (the run was killed mid-write)


def journal_path(journals_dir: Path, out: Path) -> Path:
    """Where the journal of output folder ``out`` (a resolved path) lives."""
    key = hashlib.sha256(str(out).encode()).hexdigest()[:32]
    return journals_dir / f"{key}.jsonl"


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="microseconds")


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class JournalWriter:
    """Appends records to a journal; safe to share between worker threads."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd = fd
        self._lock = threading.Lock()  # guards writes to the file
        self._sync_lock = threading.Lock()  # one fdatasync at a time
        self._appended = 0  # lines written so far
        self._synced = 0  # lines known to be on disk

    @classmethod
    def create(cls, path: Path, manifest: dict) -> JournalWriter:
        """Start a new journal at ``path`` (replacing none) with the run's manifest fields."""
        try:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_EXCL, FILE_MODE)
        except OSError as exc:
            raise JournalError(
                f"cannot create the marking journal {path} ({exc.strerror or exc}); "
                "nothing was written to --out"
            ) from None
        writer = cls(path, fd)
        writer._append({"journal": JOURNAL_VERSION, "started": _now(), "manifest": manifest})
        try:
            _fsync_dir(path.parent)
        except OSError as exc:
            raise JournalError(f"cannot flush the journal folder {path.parent} ({exc})") from None
        return writer

    @classmethod
    def reopen(cls, path: Path) -> JournalWriter:
        """Continue an existing journal (a resumed run)."""
        try:
            fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        except OSError as exc:
            raise JournalError(
                f"cannot reopen the marking journal {path} ({exc.strerror or exc})"
            ) from None
        writer = cls(path, fd)
        writer._append({"resumed": _now()})
        return writer

    def record(self, written: Written) -> None:
        """Record ``written`` durably; call before the output is renamed into place."""
        self._append({"write": written.to_json()})

    def finish(self, manifest_path: Path) -> None:
        """Record that the final manifest was saved."""
        self._append({"finished": str(manifest_path)})

    def close(self) -> None:
        """Close the file (idempotent)."""
        with self._lock:
            if self._fd >= 0:
                os.close(self._fd)
                self._fd = -1

    def _append(self, record: dict) -> None:
        line = (json.dumps(record, separators=(",", ":")) + "\n").encode()
        try:
            with self._lock:
                if self._fd < 0:
                    raise OSError("journal already closed")
                view = memoryview(line)
                while view:
                    view = view[os.write(self._fd, view) :]
                self._appended += 1
                mine = self._appended
            # Group commit: one flush covers every line written before it, so workers
            # arriving together share it. Each caller returns once its own line is on disk.
            with self._sync_lock:
                if self._synced < mine:
                    covered = self._appended
                    os.fdatasync(self._fd)
                    self._synced = covered
        except OSError as exc:
            raise JournalError(
                f"cannot write the marking journal {self.path} ({exc.strerror or exc}); "
                "the run stopped so that no file is written to --out unrecorded"
            ) from None


def read_journal(path: Path) -> JournalContents:
    """Read ``path`` back. A last line cut short is skipped (``torn_tail``).

    Raises ``JournalError`` for an unreadable file or damage before the last line.
    """
    try:
        with open(path, "rb") as fh:
            data = fh.read()
    except OSError as exc:
        raise JournalError(
            f"cannot read the marking journal {path} ({exc.strerror or exc})"
        ) from None
    lines = data.split(b"\n")
    # split leaves "" after a final newline; anything else there is a torn last line.
    tail = lines.pop()
    torn = bool(tail)
    records: list[dict] = []
    for number, raw in enumerate(lines, start=1):
        try:
            record = json.loads(raw)
            if not isinstance(record, dict):
                raise ValueError("not an object")
        except ValueError:
            if number == len(lines) and not tail:
                torn = True  # a kill between two writes of one line leaves it unparsable
                break
            raise JournalError(
                f"marking journal {path} is damaged at line {number}; it cannot be trusted"
            ) from None
        records.append(record)
    if not records or "manifest" not in records[0]:
        raise JournalError(f"marking journal {path} lacks its header line; it cannot be trusted")
    contents = JournalContents(path=path, manifest=dict(records[0]["manifest"]), torn_tail=torn)
    for record in records[1:]:
        if "write" in record:
            entry = record["write"]
            try:
                contents.writes.append(
                    Written(
                        source=str(entry["source"]),
                        output=str(entry["output"]),
                        marked=bool(entry["marked"]),
                        source_sha256=str(entry["source_sha256"]),
                        output_sha256=str(entry["output_sha256"]),
                    )
                )
            except (KeyError, TypeError):
                raise JournalError(
                    f"marking journal {path} holds a malformed record; it cannot be trusted"
                ) from None
        elif "finished" in record:
            contents.finished = str(record["finished"])
    return contents


def remove_journal(path: Path) -> None:
    """Delete a finished journal (missing is fine)."""
    with contextlib.suppress(FileNotFoundError):
        path.unlink()
    with contextlib.suppress(OSError):
        _fsync_dir(path.parent)
