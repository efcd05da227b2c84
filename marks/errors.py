"""Errors raised by the mark engine. Each message names what went wrong and where."""

from __future__ import annotations

from pathlib import Path


class MarkEngineError(Exception):
    """Base class for every error the mark engine raises on purpose."""


class ImageError(MarkEngineError, ValueError):
    """An image file cannot be used: unreadable, corrupt, too large, wrong type."""

    def __init__(self, path: Path | str, problem: str) -> None:
        super().__init__(f"{path}: {problem}")
        self.path = Path(path)
        self.problem = problem


class UnknownMarkError(MarkEngineError, KeyError):
    """No mark of that name is held in the store."""

    def __init__(self, name: str, store: Path, known: list[str]) -> None:
        hint = f"held marks: {', '.join(known)}" if known else "the store holds no marks yet"
        super().__init__(
            f"unknown mark {name!r} in store {store} ({hint}); create it with "
            f"`isotope marks new {name}`"
        )
        self.name = name

    def __str__(self) -> str:
        # KeyError would quote the message; show it plainly.
        return str(self.args[0])


class StoreError(MarkEngineError):
    """The private store cannot be used safely (permissions, layout, bad name)."""


class StorePermissionError(StoreError, PermissionError):
    """A store directory or file is readable by other users."""


class MarkExistsError(StoreError):
    """A mark with that name is already held."""


class MarkTooCloseError(MarkEngineError, ValueError):
    """A new mark is too close (normalized L∞) to a held mark to stay distinguishable."""

    def __init__(self, name: str, other: str, distance: float, minimum: float) -> None:
        super().__init__(
            f"mark {name!r} is too close to held mark {other!r}: normalized L∞ distance "
            f"{distance:.3f} < {minimum} (the paper's limit for distinguishable marks); "
            "use another seed or image, or --force"
        )
        self.other = other
        self.distance = distance


class MarkingError(MarkEngineError, ValueError):
    """Bad input to the mark engine: α, fraction, mark kind, folders."""


class PoolError(MarkEngineError, ValueError):
    """A photo pool cannot give a mark and its externals: too few usable distinct photos."""


class MarkingInterrupted(MarkEngineError):
    """Marking was interrupted (Ctrl-C, SIGTERM, SIGHUP); what was written is recorded.

    ``manifest`` is the partial manifest (None when the store refused it, then the
    journal holds the record); ``signal_name`` the signal that stopped the run, if any.
    """

    def __init__(
        self,
        manifest: Path | None,
        done: int,
        total: int,
        *,
        journal: Path | None = None,
        signal_name: str | None = None,
    ) -> None:
        cause = f"stopped by {signal_name}" if signal_name else "interrupted"
        record = (
            f"the partial manifest {manifest} records what was written"
            if manifest is not None
            else f"the journal {journal} records what was written"
        )
        again = "; rerun with resume (--resume) to finish" if journal is not None else ""
        super().__init__(f"{cause} after {done} of {total} files; {record}{again}")
        self.manifest = manifest
        self.journal = journal
        self.signal_name = signal_name


class DamagedMarkError(StoreError):
    """A mark's file in the store is unreadable, truncated or incomplete."""

    def __init__(self, name: str, path: Path, problem: str) -> None:
        super().__init__(
            f"mark {name!r}: store file {path} {problem}; restore it from a backup or "
            "remove it (without it the mark and its commitment cannot be used)"
        )
        self.name = name
        self.path = Path(path)
        self.problem = problem


class MarkingStopped(StoreError):
    """The store stopped accepting writes during marking; the journal says what was done."""

    def __init__(self, problem: str, *, out: Path, files: int, journal: Path) -> None:
        super().__init__(
            f"{problem}. --out {out} holds {files} finished file(s), each recorded in the "
            f"journal {journal}; once the store is writable again, rerun with resume "
            "(--resume) to finish and save the manifest"
        )
        self.journal = journal
