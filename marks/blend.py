"""Blending: ``x ⊕ (t, m, α) = α·t[m] + (1−α)·x[m]``, other pixels untouched."""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from marks.errors import MarkingError
from marks.mark import Mark, resized_planes


def check_alpha(alpha: float) -> float:
    """Return ``alpha`` if it lies in (0, 1], else raise ``ValueError``."""
    if not (0.0 < alpha <= 1.0) or alpha != alpha:
        raise MarkingError(f"alpha must be in (0, 1], got {alpha}")
    return float(alpha)


# Above this size the per-size terms are neither cached nor built whole: at 16 bytes
# per pixel an 88-megapixel photo's terms alone would take 1.4 GB, kept after it.
CACHED_MAX_PIXELS = 16_000_000

# Rows are blended in chunks of about this many values, so the float32 temporaries
# stay in the CPU cache: whole-image float passes on a 12-megapixel photo move
# ~150 MB through memory each and cost more than the arithmetic.
_CHUNK_VALUES = 1 << 18


@lru_cache(maxsize=4)  # a 12-megapixel size holds ~190 MB: phone folders have 1-3 sizes
def _terms(
    mark: Mark, height: int, width: int, alpha: float
) -> tuple[np.ndarray | None, np.ndarray]:
    # Per (mark, size, α): keep = 1 − α·m (None when the mark covers everything: the
    # scalar 1 − α is used) and add = α·m·t·255 + 0.5, so each blend is one multiply
    # and one add; the 0.5 makes the final truncation round to nearest. Marks are
    # immutable, so caching them is safe.
    pixels, mask = mark.resized(height, width)
    weight = (alpha * mask)[..., None]
    add = (weight * (pixels * 255.0) + 0.5).astype(np.float32)
    add.setflags(write=False)
    if bool((mask == 1.0).all()):
        return None, add
    keep = (1.0 - weight).astype(np.float32)
    keep.setflags(write=False)
    return keep, add


def blend(image: np.ndarray, mark: Mark, alpha: float) -> np.ndarray:
    """Blend ``mark`` into an RGB uint8 image (H, W, 3) or a batch (N, H, W, 3).

    Returns a new uint8 array, rounded to nearest (float32 arithmetic: within one
    level of the exact formula); ``image`` is never modified. The mark is resized to
    the image. With a soft mask the weight is ``α·m`` per pixel; where ``m = 0`` the
    pixel is returned unchanged. numpy releases the GIL here, so threads blend in
    parallel.
    """
    alpha = check_alpha(alpha)
    if image.dtype != np.uint8 or image.shape[-1] != 3 or image.ndim not in (3, 4):
        raise ValueError(f"expected uint8 RGB image(s), got {image.dtype} {image.shape}")
    height, width = image.shape[-3], image.shape[-2]
    if height * width > CACHED_MAX_PIXELS and mark.pixels.shape[:2] != (height, width):
        return _blend_large(image, mark, alpha)
    keep, add = _terms(mark, height, width, alpha)
    scale = np.float32(1.0 - alpha)
    out = np.empty_like(image)
    rows = max(1, _CHUNK_VALUES // (width * 3))
    scratch = np.empty((min(rows, height), width, 3), np.float32)
    pictures = zip(
        image.reshape(-1, height, width, 3), out.reshape(-1, height, width, 3), strict=True
    )
    for picture, result in pictures:
        for top in range(0, height, rows):
            part = slice(top, top + rows)
            x = scratch[: min(rows, height - top)]
            np.copyto(x, picture[part])
            x *= scale if keep is None else keep[part]
            # A convex combination of values in [0, 255] stays in range, so
            # truncating after the +0.5 in ``add`` rounds to nearest without a clip.
            x += add[part]
            np.copyto(result[part], x, casting="unsafe")
    return out


def _blend_large(image: np.ndarray, mark: Mark, alpha: float) -> np.ndarray:
    # The same arithmetic as _terms and blend, chunk by chunk, from the mark resized
    # to uint8 (7 bytes per pixel, freed on return): identical results.
    height, width = image.shape[-3], image.shape[-2]
    rgb, mask = resized_planes(mark, height, width)
    full = bool((mask == 1.0).all())
    scale = np.float32(1.0 - alpha)
    out = np.empty_like(image)
    rows = max(1, _CHUNK_VALUES // (width * 3))
    pictures = zip(
        image.reshape(-1, height, width, 3), out.reshape(-1, height, width, 3), strict=True
    )
    for picture, result in pictures:
        for top in range(0, height, rows):
            part = slice(top, top + rows)
            weight = (alpha * mask[part])[..., None]
            pixels = rgb[part].astype(np.float32) / 255.0
            add = (weight * (pixels * 255.0) + 0.5).astype(np.float32)
            x = picture[part].astype(np.float32)
            x *= scale if full else (1.0 - weight).astype(np.float32)
            x += add
            np.copyto(result[part], x, casting="unsafe")
    return out
