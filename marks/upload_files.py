"""Shared pieces of upload preparation: safe file names, size-bounded encoding, results."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from marks.errors import MarkingError
from marks.folder_scan import check_out_dir, is_within, require_dir, scan_images
from marks.imageio import encode_image
from marks.marking import FileFailure

Progress = Callable[[int, int], None]
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]+")


def safe_file_name(rel: Path, used: set[str], *, suffix: str | None = None) -> str:
    """A flat file name for ``rel`` using only ``[A-Za-z0-9._-]``, unique within ``used``.

    Nested paths are joined with ``__``; ``suffix`` replaces the extension when given.
    The name is added to ``used``.
    """
    stem = "__".join(_UNSAFE.sub("_", part) for part in rel.with_suffix("").parts)
    stem = stem.strip("._") or "image"
    ext = (suffix or rel.suffix).lower()
    name = f"{stem[:150]}{ext}"
    n = 1
    while name.lower() in used:
        n += 1
        name = f"{stem[:150]}-{n}{ext}"
    used.add(name.lower())
    return name


def encode_within(
    rgb: np.ndarray, alpha: np.ndarray | None, fmt: str, max_bytes: int
) -> tuple[bytes, tuple[int, int]]:
    """Encode in ``fmt``; while over ``max_bytes``, downscale by 0.75 and retry.

    Returns the bytes and the final (width, height). Quality stays at the engine's
    stated setting; only the size shrinks, so the mark keeps its strength.
    """
    image_rgb, image_alpha = rgb, alpha
    while True:
        data = encode_image(image_rgb, image_alpha, fmt)
        height, width = image_rgb.shape[:2]
        if len(data) <= max_bytes or min(height, width) <= 16:
            return data, (width, height)
        size = (max(1, int(width * 0.75)), max(1, int(height * 0.75)))
        image_rgb = np.asarray(
            Image.fromarray(image_rgb, "RGB").resize(size, Image.Resampling.LANCZOS)
        )
        if image_alpha is not None:
            image_alpha = np.asarray(Image.fromarray(image_alpha, "L").resize(size))


@dataclass
class PrepareResult:
    """What an upload preparation wrote. ``files`` entries are JSON-ready dicts."""

    out: Path
    written: int = 0
    failed: list[FileFailure] = field(default_factory=list)
    files: list[dict] = field(default_factory=list)
    outputs: dict[str, str] = field(default_factory=dict)  # role -> path of a written index
    manifest: Path | None = None

    def to_json(self) -> dict:
        """A JSON-ready summary."""
        return {
            "out": str(self.out),
            "written": self.written,
            "failed": [{"path": f.path, "error": f.error} for f in self.failed],
            "outputs": self.outputs,
            "manifest": str(self.manifest) if self.manifest else None,
        }


@dataclass(frozen=True)
class LabelledFile:
    """One image to prepare: its label, its source folder and path relative to it."""

    label: str
    root: Path
    rel: Path

    @property
    def path(self) -> Path:
        """The source file's full path."""
        return self.root / self.rel


def collect_labelled(
    sources: dict[str, Path], out: Path, store_root: Path | None
) -> tuple[list[LabelledFile], Path]:
    """Every image under each label's folder, and ``out`` checked and resolved.

    Refuses (``MarkingError``) missing folders, a source inside the private store
    (marks and manifests must never be uploaded), ``out`` overlapping a source or the
    store or not empty, and a set with no images at all.
    """
    if not sources:
        raise MarkingError("give at least one label and its folder (LABEL=DIR)")
    roots = {
        label: require_dir(path, f"folder for label {label!r}") for label, path in sources.items()
    }
    if store_root is not None:
        for label, root in roots.items():
            if is_within(root, store_root) or is_within(store_root, root):
                raise MarkingError(
                    f"folder {root} for label {label!r} overlaps the private store {store_root}; "
                    "the store must never be uploaded"
                )
    out = check_out_dir(out, list(roots.values()), store_root)
    files = [
        LabelledFile(label, root, rel)
        for label, root in roots.items()
        for rel in scan_images(root)[0]
    ]
    if not files:
        raise MarkingError("no image files found in the given folders")
    return files, out
