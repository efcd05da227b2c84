"""Blending: ``x ⊕ (t, m, α) = α·t[m] + (1−α)·x[m]``, other pixels untouched."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from PIL import Image

from marks.mark import Mark


def check_alpha(alpha: float) -> float:
    """Return ``alpha`` if it lies in (0, 1], else raise ``ValueError``."""
    if not (0.0 < alpha <= 1.0) or alpha != alpha:
        raise ValueError(f"alpha must be in (0, 1], got {alpha}")
    return float(alpha)


@lru_cache(maxsize=64)
def _terms(mark: Mark, height: int, width: int, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    # Per (mark, size, α): keep = 1 − α·m and add = α·m·t·255, so each blend is one
    # multiply and one add. Marks are immutable, so caching them is safe.
    pixels, mask = mark.resized(height, width)
    weight = (alpha * mask)[..., None]
    # keep is materialized per channel: same-shape operands take numpy's fastest loop.
    keep = np.repeat((1.0 - weight).astype(np.float32), 3, axis=2)
    add = (weight * (pixels * 255.0)).astype(np.float32)
    keep.setflags(write=False)
    add.setflags(write=False)
    return keep, add


def blend(image: np.ndarray, mark: Mark, alpha: float) -> np.ndarray:
    """Blend ``mark`` into an RGB uint8 image (H, W, 3) or a batch (N, H, W, 3).

    Returns a new uint8 array, rounded to nearest (float32 arithmetic: within one
    level of the exact formula); ``image`` is never modified. The
    mark is resized to the image. With a soft mask the weight is ``α·m`` per pixel;
    where ``m = 0`` the pixel is returned unchanged.
    """
    alpha = check_alpha(alpha)
    if image.dtype != np.uint8 or image.shape[-1] != 3 or image.ndim not in (3, 4):
        raise ValueError(f"expected uint8 RGB image(s), got {image.dtype} {image.shape}")
    keep, add = _terms(mark, image.shape[-3], image.shape[-2], alpha)
    out = np.multiply(image, keep, dtype=np.float32)  # converts and scales in one pass
    out += add
    # A convex combination of values in [0, 255] stays in range, so adding 0.5 and
    # truncating rounds to nearest without a clip.
    out += 0.5
    return out.astype(np.uint8)


@lru_cache(maxsize=64)
def _pil_terms(
    mark: Mark, width: int, height: int, alpha: float
) -> tuple[Image.Image, Image.Image | None, bool]:
    # The mark as an 8-bit image at this size, plus how its mask applies: None when the
    # mask covers everything (a plain blend), else an "L" mask and whether it is binary.
    pixels, mask = mark.resized(height, width)
    picture = Image.fromarray(np.round(pixels * 255).astype(np.uint8), "RGB")
    if bool((mask == 1.0).all()):
        return picture, None, True
    binary = bool(np.isin(mask, (0.0, 1.0)).all())
    weight = mask if binary else alpha * mask
    return picture, Image.fromarray(np.round(weight * 255).astype(np.uint8), "L"), binary


def blend_image(image: Image.Image, mark: Mark, alpha: float) -> Image.Image:
    """``blend`` for a Pillow RGB image, done in Pillow's C loops (the marking fast path).

    Returns a new image within one level of ``blend`` (Pillow truncates where ``blend``
    rounds; soft masks are quantized to 1/255); ``image`` is not modified.
    """
    alpha = check_alpha(alpha)
    if image.mode != "RGB":
        raise ValueError(f"expected an RGB image, got mode {image.mode}")
    picture, mask, binary = _pil_terms(mark, image.width, image.height, alpha)
    if mask is None:
        return Image.blend(image, picture, alpha)
    if binary:
        return Image.composite(Image.blend(image, picture, alpha), image, mask)
    return Image.composite(picture, image, mask)
