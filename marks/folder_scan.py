"""Finding the image files in a folder, and checking folder arguments."""

from __future__ import annotations

import os
from pathlib import Path

from marks.errors import MarkingError

# Suffixes treated as images; a file with one of these that fails to decode is a
# per-file failure, anything else is skipped (and listed) rather than posted.
IMAGE_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".webp", ".tif", ".tiff", ".bmp", ".gif"}
    | {".pgm", ".ppm", ".pnm", ".pbm"}
)
# Suffixes whose format a marked copy keeps (see ``marks.imageio``).
KEPT_SUFFIXES = frozenset(
    {".jpg", ".jpeg", ".jpe", ".jfif", ".png", ".webp", ".tif", ".tiff", ".bmp"}
)


def scan_images(src: Path) -> tuple[list[Path], list[Path]]:
    """Image files under ``src`` and skipped non-image files, as sorted relative paths.

    Hidden files and folders (name starting with ``.``) are ignored entirely.
    """
    images: list[Path] = []
    skipped: list[Path] = []
    for dirpath, dirnames, filenames in os.walk(src):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.startswith("."):
                continue
            rel = (Path(dirpath) / name).relative_to(src)
            (images if rel.suffix.lower() in IMAGE_SUFFIXES else skipped).append(rel)
    return sorted(images), sorted(skipped)


def require_dir(path: Path, what: str) -> Path:
    """``path`` resolved, or ``MarkingError`` when it is not an existing folder."""
    path = Path(path).expanduser()
    if not path.exists():
        raise MarkingError(f"{what} {path} does not exist")
    if not path.is_dir():
        raise MarkingError(f"{what} {path} is not a folder")
    return path.resolve()


def is_within(path: Path, parent: Path) -> bool:
    """True if ``path`` is ``parent`` or lies under it (both resolved)."""
    return path == parent or parent in path.parents


def check_out_dir(
    out: Path, sources: list[Path], store_root: Path | None, *, must_be_empty: bool = True
) -> Path:
    """Resolve ``out`` and refuse it inside a source, around a source, inside the store,
    or not a folder, or (``must_be_empty``) when it already holds files (a fresh folder
    is the thing to post; marking checks that itself, under its lock, to resume)."""
    out = Path(out).expanduser().resolve()
    for src in sources:
        if is_within(out, src):
            raise MarkingError(
                f"--out {out} is inside the source folder {src}; choose a folder outside it"
            )
        if is_within(src, out):
            raise MarkingError(
                f"--out {out} contains the source folder {src}; choose another folder"
            )
    if store_root is not None and (is_within(out, store_root) or is_within(store_root, out)):
        raise MarkingError(
            f"--out {out} overlaps the private store {store_root}; marks must stay private"
        )
    if out.exists() and not out.is_dir():
        raise MarkingError(f"--out {out} already exists and is not a folder")
    if must_be_empty and out.exists() and any(out.iterdir()):
        raise MarkingError(f"--out {out} already exists and is not an empty folder")
    return out
