"""Blending: ``x ⊕ (t, m, α) = α·t[m] + (1−α)·x[m]``, other pixels untouched."""

from __future__ import annotations

import numpy as np

from marks.mark import Mark


def check_alpha(alpha: float) -> float:
    """Return ``alpha`` if it lies in (0, 1], else raise ``ValueError``."""
    if not (0.0 < alpha <= 1.0) or alpha != alpha:
        raise ValueError(f"alpha must be in (0, 1], got {alpha}")
    return float(alpha)


def blend(image: np.ndarray, mark: Mark, alpha: float) -> np.ndarray:
    """Blend ``mark`` into an RGB uint8 image (H, W, 3) or a batch (N, H, W, 3).

    Returns a new uint8 array; ``image`` is never modified. The mark is resized to
    the image. With a soft mask the weight is ``α·m`` per pixel.
    """
    alpha = check_alpha(alpha)
    if image.dtype != np.uint8 or image.shape[-1] != 3 or image.ndim not in (3, 4):
        raise ValueError(f"expected uint8 RGB image(s), got {image.dtype} {image.shape}")
    height, width = image.shape[-3], image.shape[-2]
    pixels, mask = mark.resized(height, width)
    weight = (alpha * mask)[..., None]  # (H, W, 1)
    out = image.astype(np.float32)
    out *= 1.0 - weight
    out += weight * (pixels * 255.0)
    np.rint(out, out=out)
    np.clip(out, 0, 255, out=out)
    return out.astype(np.uint8)
