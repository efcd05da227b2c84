"""The auxiliary images an audit blends marks into (``--aux DIR``).

``D_aux`` must hold images like the model's training data that are *not* of the
audited label ``j``: a folder of images, or one subfolder per label (then the
subfolder named ``j`` is excluded). Unreadable files are skipped and reported.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from audit.errors import AuditInputError
from marks.errors import ImageError
from marks.imageio import load_rgb

IMAGE_SUFFIXES = frozenset(
    {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp", ".ppm", ".pgm"}
)
MAX_SIDE = 512
"""Larger images are downscaled on load: services resize anyway, and memory stays small."""


class AuxImagesError(AuditInputError):
    """The auxiliary folder cannot serve the audit; the message says why."""


@dataclass
class AuxImages:
    """Loaded auxiliary images: pixels, a stable id per image, and what was left out."""

    root: Path
    images: list[np.ndarray]
    ids: list[str]  # content digest: the ``QueryImage.base`` of the image
    names: list[str]  # path relative to root, for messages
    skipped: list[tuple[str, str]] = field(default_factory=list)  # (name, problem)
    excluded: list[str] = field(default_factory=list)  # images of the audited label

    def __len__(self) -> int:
        return len(self.images)

    def require(self, n: int) -> None:
        """Raise ``AuxImagesError`` unless at least ``n`` images are available."""
        if n > len(self.images):
            raise AuxImagesError(
                f"--n {n} is larger than the {len(self.images)} usable images in {self.root}"
                f"{self._left_out()}; add images or lower --n"
            )

    def _left_out(self) -> str:
        parts = []
        if self.skipped:
            parts.append(f"{len(self.skipped)} unreadable")
        if self.excluded:
            parts.append(f"{len(self.excluded)} of the audited label excluded")
        return f" ({', '.join(parts)})" if parts else ""


def _image_files(root: Path) -> list[Path]:
    return sorted(
        p
        for p in root.rglob("*")
        if p.is_file()
        and p.suffix.lower() in IMAGE_SUFFIXES
        and not any(part.startswith(".") for part in p.relative_to(root).parts)
    )


def _downscale(pixels: np.ndarray, max_side: int) -> np.ndarray:
    height, width = pixels.shape[:2]
    if max(height, width) <= max_side:
        return pixels
    scale = max_side / max(height, width)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return np.asarray(Image.fromarray(pixels).resize(size, Image.Resampling.LANCZOS))


def load_aux_images(
    root: Path, *, exclude_labels: Collection[str] = (), max_side: int = MAX_SIDE
) -> AuxImages:
    """Load every image under ``root``, skipping unreadable ones and those of the audited labels.

    An image is of a label when its first folder below ``root`` is named so; those of
    ``exclude_labels`` are left out. Raises ``AuxImagesError`` when the folder is
    missing, holds no images, or holds only images of those labels or unreadable ones.
    """
    root = Path(root)
    if not root.is_dir():
        raise AuxImagesError(f"auxiliary folder {root} does not exist or is not a folder")
    files = _image_files(root)
    if not files:
        raise AuxImagesError(
            f"auxiliary folder {root} holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})"
        )
    aux = AuxImages(root=root, images=[], ids=[], names=[])
    for path in files:
        rel = path.relative_to(root)
        name = rel.as_posix()
        if len(rel.parts) > 1 and rel.parts[0] in exclude_labels:
            aux.excluded.append(name)
            continue
        try:
            pixels = _downscale(load_rgb(path), max_side)
        except ImageError as exc:
            aux.skipped.append((name, exc.problem))
            continue
        digest = hashlib.sha256(f"{pixels.shape}".encode() + pixels.tobytes()).hexdigest()
        aux.images.append(pixels)
        aux.ids.append(digest[:16])
        aux.names.append(name)
    if not aux.images:
        if aux.excluded and not aux.skipped:
            raise AuxImagesError(
                f"every image in {root} is of the audited label "
                f"{' or '.join(map(repr, exclude_labels))}: the auxiliary images must come "
                "from other labels"
            )
        raise AuxImagesError(
            f"no usable image in {root}: {len(aux.skipped)} unreadable, "
            f"{len(aux.excluded)} of the audited label"
        )
    return aux
