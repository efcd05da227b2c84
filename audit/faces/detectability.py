"""How many marked photos still show a face a face-search service can find.

A mark blended too strongly hides the face: the service then never enrolls the marked
copy and every probe of it comes back "no face" (measured on the ORL faces with HOG:
88% / 52% / 20% of procedural-marked faces found at α 0.2 / 0.3 / 0.4). After
marking with a mark made ``--for faces``, ``isotope mark`` reports, when the local face
engine (extra ``faces``) is installed, the share of marked copies in which it still
finds a face, beside the share of their originals (a photo without a face is not the
mark's doing). The mark engine (``marks/``) cannot import a face model, so the check
lives here.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
from PIL import Image

from marks.errors import ImageError
from marks.imageio import load_rgb
from marks.store import MarkStore
from providers.errors import MissingExtraError

MAX_SIDE = 2048
"""Photos are scaled down to this long side first: detection cost grows with pixels."""
DEFAULT_LIMIT = 50
"""Marked photos checked at most (a seeded-order sample beyond that)."""


@dataclass(frozen=True)
class FaceCheck:
    """Of ``checked`` photo pairs: marked copies and originals with a detectable face."""

    checked: int
    marked_with_face: int
    originals_with_face: int
    unreadable: int

    def summary(self) -> str:
        """One line for people."""
        return (
            f"faces the local face engine still finds: {self.marked_with_face} of {self.checked} "
            f"marked copies checked (their originals: {self.originals_with_face})"
            + (f"; {self.unreadable} unreadable" if self.unreadable else "")
        )

    def to_json(self) -> dict:
        """A JSON-ready dict."""
        return {
            "checked": self.checked,
            "marked_with_face": self.marked_with_face,
            "originals_with_face": self.originals_with_face,
            "unreadable": self.unreadable,
        }


def _shrunk(rgb: np.ndarray) -> np.ndarray:
    height, width = rgb.shape[:2]
    scale = MAX_SIDE / max(height, width)
    if scale >= 1:
        return rgb
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(Image.fromarray(rgb).resize(size, Image.Resampling.BILINEAR))


class Detector(Protocol):
    """What the check needs of a face engine (``FaceEngine``)."""

    def detect(self, rgb: np.ndarray) -> list: ...


def check_faces(
    pairs: Sequence[tuple[Path, Path]],
    *,
    limit: int = DEFAULT_LIMIT,
    engine: Detector | None = None,
) -> FaceCheck | None:
    """Detect faces in (marked copy, original) pairs; None without the local face engine.

    At most ``limit`` pairs are checked (the first ones given). ``engine`` is a loaded
    ``FaceEngine`` to reuse (tests load one per session).
    """
    if engine is None:
        try:
            from providers.faces_local.engine import FaceEngine

            engine = FaceEngine(workers=1)
        except (MissingExtraError, ImportError, FileNotFoundError):
            return None
    detect = engine.detect
    marked = originals = unreadable = 0
    chosen = list(pairs)[:limit]
    for copy, original in chosen:
        try:
            marked += bool(detect(_shrunk(load_rgb(copy))))
            originals += bool(detect(_shrunk(load_rgb(original))))
        except ImageError:
            unreadable += 1
    return FaceCheck(len(chosen) - unreadable, marked, originals, unreadable)


def marked_pairs(manifest: dict) -> list[tuple[Path, Path]]:
    """(marked copy, original) paths of a marking manifest's marked files."""
    out, src = Path(str(manifest.get("out_dir", ""))), Path(str(manifest.get("source_dir", "")))
    return [
        (out / str(entry["output"]), src / str(entry["source"]))
        for entry in manifest.get("files", [])
        if entry.get("marked")
    ]


FACES_PURPOSE = "faces"


def check_after_marking(store: MarkStore, mark_name: str, manifest: Path) -> FaceCheck | None:
    """The face check of a marking run whose mark was made ``--for faces``; else None.

    None too when the local face engine is not installed. ``manifest`` is the run's
    manifest in the store.
    """
    if store.info(mark_name).get("purpose") != FACES_PURPOSE:
        return None
    record = json.loads(store.read_private(Path(manifest)))
    return check_faces(marked_pairs(record))
