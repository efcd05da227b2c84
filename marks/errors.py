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
    """Bad input to marking or upload preparation (α, fraction, folders)."""


class MarkingInterrupted(MarkEngineError):
    """Marking was interrupted; what was written is recorded in a partial manifest."""

    def __init__(self, manifest: Path, done: int, total: int) -> None:
        super().__init__(
            f"interrupted after {done} of {total} files; the partial manifest {manifest} "
            "records what was written"
        )
        self.manifest = manifest
