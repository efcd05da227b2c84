"""The ``Mark`` value: an RGB picture plus a blend mask, and its fingerprint."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from enum import StrEnum
from functools import lru_cache

import numpy as np
from PIL import Image


class MarkKind(StrEnum):
    """How a mark was made; decides its mask and how it is resized."""

    BLEND = "blend"  # a natural photo over the whole image (the paper's "ImageNet blend")
    OVERLAY = "overlay"  # a small picture with a binarized mask (a sticker)
    SQUARE = "square"  # a square of pixels
    PIXELS = "pixels"  # scattered random pixels
    PROCEDURAL = "procedural"  # generated from a seed with multi-scale colour structure
    DEAD_LEAVES = "dead_leaves"  # overlapping random discs of random colours (the default)


@dataclass(frozen=True, eq=False)
class Mark:
    """A mark ``t`` with mask ``m``.

    ``pixels`` is float32 (H, W, 3) in [0, 1]; ``mask`` is float32 (H, W) in [0, 1]
    (1 where the mark is blended). Both are resized to each target image.
    """

    name: str
    kind: MarkKind
    pixels: np.ndarray
    mask: np.ndarray
    seed: int | None = None
    params: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.pixels.ndim != 3 or self.pixels.shape[2] != 3:
            raise ValueError(
                f"mark {self.name!r}: pixels must be (H, W, 3), got {self.pixels.shape}"
            )
        if self.mask.shape != self.pixels.shape[:2]:
            raise ValueError(f"mark {self.name!r}: mask shape {self.mask.shape} != pixels shape")
        # Freeze the arrays: a mark is shared by every blend and must never be mutated.
        object.__setattr__(self, "pixels", np.ascontiguousarray(self.pixels, dtype=np.float32))
        object.__setattr__(self, "mask", np.ascontiguousarray(self.mask, dtype=np.float32))
        self.pixels.setflags(write=False)
        self.mask.setflags(write=False)

    @property
    def fingerprint(self) -> str:
        """SHA-256 over the quantized pixels, the mask and their shape."""
        return _fingerprint(self)

    def resized(self, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
        """The mark's (pixels, mask) resized to ``height`` x ``width`` (read-only, cached)."""
        return _resized(self, height, width)


@lru_cache(maxsize=4096)
def _fingerprint(mark: Mark) -> str:
    h = hashlib.sha256()
    h.update(f"{mark.pixels.shape}".encode())
    h.update(np.round(mark.pixels * 255).astype(np.uint8).tobytes())
    h.update(np.round(mark.mask * 255).astype(np.uint8).tobytes())
    return h.hexdigest()


def resized_planes(mark: Mark, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    """The mark resized to ``height`` x ``width`` as uint8 pixels and a float32 mask.

    Not cached, and 7 bytes per pixel instead of ``Mark.resized``'s 16: for very large
    images. ``Mark.resized``'s pixels are exactly these divided by 255.
    """
    rgb = Image.fromarray(np.round(mark.pixels * 255).astype(np.uint8), "RGB")
    rgb = rgb.resize((width, height), Image.Resampling.BILINEAR)
    # Binary masks stay binary (nearest); soft masks are interpolated.
    binary = bool(np.isin(mark.mask, (0.0, 1.0)).all())
    mask_img = Image.fromarray(mark.mask, "F").resize(
        (width, height), Image.Resampling.NEAREST if binary else Image.Resampling.BILINEAR
    )
    return np.asarray(rgb), np.clip(np.asarray(mask_img, dtype=np.float32), 0.0, 1.0)


@lru_cache(maxsize=2)  # blend caches its own terms; one 12-megapixel size is ~190 MB here
def _resized(mark: Mark, height: int, width: int) -> tuple[np.ndarray, np.ndarray]:
    if mark.pixels.shape[:2] == (height, width):
        return mark.pixels, mark.mask
    rgb, mask = resized_planes(mark, height, width)
    pixels = np.asarray(rgb, dtype=np.float32) / 255.0
    pixels.setflags(write=False)
    mask.setflags(write=False)
    return pixels, mask
