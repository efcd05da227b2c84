"""Image bytes as Rekognition takes them: JPEG or PNG, at most 5 MB, at least 40×40 px.

An image that already fits is sent byte for byte. Anything else is decoded (EXIF
orientation applied, any mode to RGB) and re-encoded: JPEG for lossy sources (JPEG,
WebP, MPO), PNG for the rest so a lossless mark stays exact; an image still over 5 MB
is downscaled in steps of 0.75 until it fits. Re-encoding is deterministic, so the same
query always sends the same bytes.
"""

from __future__ import annotations

import io
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from marks.errors import ImageError
from marks.imageio import read_image
from marks.upload_files import encode_within
from providers.query import QueryImage

MAX_IMAGE_BYTES = 5 * 1024 * 1024
MIN_SIDE = 40  # Rekognition finds no face smaller than 40×40 px
_SENT_AS_IS = ("JPEG", "PNG")
_LOSSY = ("JPEG", "MPO", "WEBP")


def _header(data: bytes) -> tuple[str, int, int]:
    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.format or "?", image.width, image.height
    except Image.DecompressionBombError as exc:
        raise ValueError(f"refused as a decompression bomb ({exc})") from None
    except UnidentifiedImageError:
        raise ValueError("not an image Pillow can identify (wrong type or corrupt)") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise ValueError(f"cannot open image ({exc})") from None


def _check_side(width: int, height: int) -> None:
    if min(width, height) < MIN_SIDE:
        raise ValueError(
            f"image is {width}x{height} px; Rekognition needs faces of at least "
            f"{MIN_SIDE}x{MIN_SIDE} px"
        )


def wire_bytes(image: QueryImage, *, max_bytes: int = MAX_IMAGE_BYTES) -> bytes:
    """The bytes to send for ``image`` (see the module docstring).

    Raises ``ValueError`` naming the problem when the image cannot be decoded, is
    smaller than 40×40 px, or cannot be brought under ``max_bytes``.
    """
    if not image.data:
        raise ValueError("empty image (0 bytes)")
    fmt, width, height = _header(image.data)
    _check_side(width, height)
    if fmt in _SENT_AS_IS and len(image.data) <= max_bytes:
        return image.data
    try:
        decoded = read_image(Path(f"{fmt.lower()} image"), image.data)
    except ImageError as exc:
        raise ValueError(exc.problem) from None
    target = "JPEG" if fmt in _LOSSY else "PNG"
    data, (new_width, new_height) = encode_within(decoded.rgb, None, target, max_bytes)
    if len(data) > max_bytes:
        raise ValueError(f"cannot bring the image under {max_bytes} bytes by downscaling")
    _check_side(new_width, new_height)
    return data
