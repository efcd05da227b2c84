"""Read a folder with one subfolder per label into arrays for training."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from marks.errors import ImageError
from marks.imageio import load_rgb
from providers.errors import ProviderOptionError

IMAGE_SUFFIXES = frozenset(
    {".png", ".jpg", ".jpeg", ".bmp", ".gif", ".webp", ".tif", ".tiff", ".ppm", ".pgm"}
)


@dataclass(frozen=True)
class LabelledImages:
    """``x`` uint8 (N, S, S, 3), ``y`` int64 (N,) indexing ``labels``, and the source files."""

    x: np.ndarray
    y: np.ndarray
    labels: list[str]
    files: list[Path]


def read_image(path: Path, size: int) -> np.ndarray:
    """One image as uint8 (size, size, 3), read by ``marks.imageio.load_rgb``.

    That reader applies EXIF orientation and converts every mode the mark engine
    handles (I;16, CMYK, palettes...) the same way, so a model trains on the pixels
    the person marked. Raises ``ValueError`` naming the path and the problem.
    """
    try:
        rgb = load_rgb(path)
    except ImageError as exc:
        raise ProviderOptionError(f"{path}: cannot read image ({exc.problem})") from exc
    if rgb.shape[:2] != (size, size):
        resized = Image.fromarray(rgb).resize((size, size), Image.Resampling.BILINEAR)
        rgb = np.asarray(resized, dtype=np.uint8)
    return rgb


def list_labelled_files(data_dir: Path) -> tuple[list[str], list[tuple[Path, int]]]:
    """Labels (sorted subfolder names) and (file, label index) pairs; hidden entries skipped."""
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise ProviderOptionError(f"{data_dir}: not a folder (expected one subfolder per label)")
    labels = sorted(p.name for p in data_dir.iterdir() if p.is_dir() and not p.name.startswith("."))
    files: list[tuple[Path, int]] = []
    for index, label in enumerate(labels):
        found = sorted(
            p
            for p in (data_dir / label).rglob("*")
            if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith(".")
        )
        if not found:
            raise ProviderOptionError(f"{data_dir / label}: label folder holds no images")
        files += [(p, index) for p in found]
    if len(labels) < 2:
        raise ProviderOptionError(
            f"{data_dir}: need at least 2 label subfolders, found {len(labels)}"
        )
    return labels, files


def load_labelled_folder(data_dir: Path, size: int) -> LabelledImages:
    """Every image under ``data_dir/<label>/`` resized to ``size`` × ``size``."""
    labels, files = list_labelled_files(data_dir)
    x = np.stack([read_image(path, size) for path, _ in files])
    y = np.array([index for _, index in files], dtype=np.int64)
    return LabelledImages(x=x, y=y, labels=labels, files=[path for path, _ in files])


def guess_input_size(data_dir: Path, cap: int = 64) -> int:
    """The side of the first image, capped at ``cap`` (small CNNs gain little above it)."""
    _, files = list_labelled_files(data_dir)
    with Image.open(files[0][0]) as image:
        return max(8, min(cap, max(image.size)))
