"""Fitting a query image to Image Analysis's rules: format, bytes, pixels per side.

The service reads JPEG, PNG, GIF, BMP, WEBP, ICO, TIFF and MPO files under 20 MB,
each side 50 to 16,000 pixels. An image that meets the rules is sent as it is; any
other is re-encoded (tiny ones upscaled, huge ones downscaled, as PNG, or JPEG for
JPEG sources and when PNG is too large). The result depends only on the image's
bytes, so the same query always sends the same request.
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError


@dataclass(frozen=True)
class ImageLimits:
    """What the service accepts (its documentation's figures by default)."""

    max_bytes: int = 20_000_000  # "less than 20 MB", read as the smaller 10^6 megabyte
    min_side: int = 50
    max_side: int = 16_000
    formats: frozenset[str] = frozenset({"JPEG", "PNG", "GIF", "BMP", "WEBP", "ICO", "TIFF", "MPO"})


LIMITS = ImageLimits()
_DECODE_LIMIT = 400_000_000  # pixels: refuse to inflate anything bigger in memory
_JPEG_QUALITY = 92


class UnusableImageError(ValueError):
    """The image cannot be made to fit the service's rules; the message says why."""


@dataclass(frozen=True)
class FittedImage:
    """The bytes to send, their format and size, and whether they were re-encoded."""

    data: bytes
    format: str
    width: int
    height: int
    reencoded: bool

    def describe(self) -> str:
        """E.g. ``64×64 PNG, 10,504 bytes (re-encoded)``."""
        note = " (re-encoded)" if self.reencoded else ""
        return f"{self.width}×{self.height} {self.format}, {len(self.data):,} bytes{note}"


def _encode(image: Image.Image, fmt: str) -> bytes:
    buf = io.BytesIO()
    if fmt == "JPEG":
        image.convert("RGB").save(buf, "JPEG", quality=_JPEG_QUALITY)
    else:
        image.save(buf, "PNG", compress_level=6)
    return buf.getvalue()


def _target_size(width: int, height: int, limits: ImageLimits) -> tuple[int, int]:
    scale = 1.0
    if min(width, height) < limits.min_side:
        scale = limits.min_side / min(width, height)
    if max(width, height) * scale > limits.max_side:
        scale = limits.max_side / max(width, height)
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    # Only an extreme aspect ratio (e.g. 10×20,000) has no allowed size of the same
    # shape: refuse it rather than stretch the image.
    if min(size) < limits.min_side or max(size) > limits.max_side:
        raise UnusableImageError(
            f"a {width}×{height} image cannot be scaled to {limits.min_side}–"
            f"{limits.max_side} pixels per side without changing its shape"
        )
    return size


def fit_image(data: bytes, limits: ImageLimits = LIMITS) -> FittedImage:
    """The image to send for ``data`` (encoded image bytes).

    Raises ``UnusableImageError`` for bytes Pillow cannot read as an image, an image
    too large to decode safely, or one whose aspect ratio cannot fit the side limits.
    """
    try:
        with Image.open(io.BytesIO(data)) as opened:
            fmt = opened.format or "unknown"
            width, height = opened.size
            fits = (
                fmt in limits.formats
                and len(data) <= limits.max_bytes
                and limits.min_side <= width <= limits.max_side
                and limits.min_side <= height <= limits.max_side
            )
            if fits:
                return FittedImage(data, fmt, width, height, reencoded=False)
            if width * height > _DECODE_LIMIT:
                raise UnusableImageError(f"a {width}×{height} image is too large to re-encode")
            image = ImageOps.exif_transpose(opened)
            image.load()
    except Image.DecompressionBombError as exc:
        raise UnusableImageError(f"the image is too large to decode safely ({exc})") from None
    except UnidentifiedImageError:
        raise UnusableImageError("not an image in a format Pillow reads") from None
    except OSError as exc:
        raise UnusableImageError(f"a damaged or truncated image ({exc})") from None
    # Keep transparency in PNG; everything else becomes RGB.
    has_alpha = image.mode in ("RGBA", "LA", "PA") or "transparency" in image.info
    image = image.convert("RGBA" if has_alpha else "RGB")
    width, height = image.size
    size = _target_size(width, height, limits)
    if size != (width, height):
        image = image.resize(size, Image.Resampling.LANCZOS)
    out_format = "JPEG" if fmt in ("JPEG", "MPO") else "PNG"
    encoded = _encode(image, out_format)
    if len(encoded) > limits.max_bytes and out_format == "PNG":
        out_format = "JPEG"
        encoded = _encode(image, out_format)
    while len(encoded) > limits.max_bytes:
        # Shrink by the square root of the overshoot, a little more to converge quickly.
        scale = min(0.9, 0.95 * math.sqrt(limits.max_bytes / len(encoded)))
        w, h = image.size
        smaller = (math.floor(w * scale), math.floor(h * scale))
        if min(smaller) < limits.min_side:
            raise UnusableImageError(
                f"a {width}×{height} image does not fit in {limits.max_bytes:,} bytes "
                f"at {limits.min_side} pixels or more per side"
            )
        image = image.resize(smaller, Image.Resampling.LANCZOS)
        encoded = _encode(image, out_format)
    return FittedImage(encoded, out_format, image.size[0], image.size[1], reencoded=True)
