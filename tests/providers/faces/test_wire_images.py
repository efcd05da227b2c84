"""Images as Rekognition takes them: JPEG or PNG within 5 MB, at least 40×40 px."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from providers.query import QueryImage
from providers.rekognition.images import MAX_IMAGE_BYTES, wire_bytes

from .conftest import encode, face_pixels


def _format(data: bytes) -> tuple[str, tuple[int, int]]:
    with Image.open(io.BytesIO(data)) as image:
        return image.format or "?", image.size


def test_jpeg_and_png_within_limits_are_sent_byte_for_byte() -> None:
    pixels = face_pixels(0)
    for fmt in ("JPEG", "PNG"):
        data = encode(pixels, fmt)
        assert wire_bytes(QueryImage(data, f"image/{fmt.lower()}")) is data


def test_other_formats_are_re_encoded_by_kind() -> None:
    pixels = face_pixels(0)
    assert _format(wire_bytes(QueryImage(encode(pixels, "BMP"), "image/bmp")))[0] == "PNG"
    assert _format(wire_bytes(QueryImage(encode(pixels, "GIF"), "image/gif")))[0] == "PNG"
    assert _format(wire_bytes(QueryImage(encode(pixels, "WEBP"), "image/webp")))[0] == "JPEG"
    grey = encode(pixels[..., 0], "TIFF")
    out = wire_bytes(QueryImage(grey, "image/tiff"))
    assert _format(out) == ("PNG", (100, 100))
    # Lossless sources stay lossless: the same pixels arrive.
    np.testing.assert_array_equal(
        np.asarray(Image.open(io.BytesIO(out)).convert("L")), pixels[..., 0]
    )


def test_re_encoding_is_deterministic() -> None:
    data = encode(face_pixels(1), "BMP")
    assert wire_bytes(QueryImage(data, "image/bmp")) == wire_bytes(QueryImage(data, "image/bmp"))


def test_oversized_images_are_downscaled_under_the_limit() -> None:
    noise = np.random.default_rng(0).integers(0, 256, (900, 900, 3), dtype=np.uint8)
    data = encode(noise, "PNG", compress_level=0)
    limit = 1_000_000
    assert len(data) > limit
    out = wire_bytes(QueryImage(data, "image/png"), max_bytes=limit)
    fmt, size = _format(out)
    assert len(out) <= limit and fmt == "PNG" and size[0] < 900
    assert MAX_IMAGE_BYTES == 5 * 1024 * 1024


def test_unusable_images_are_refused_with_the_reason() -> None:
    with pytest.raises(ValueError, match="40x40"):
        wire_bytes(QueryImage(encode(face_pixels(0, side=39), "PNG"), "image/png"))
    with pytest.raises(ValueError, match="empty"):
        wire_bytes(QueryImage(b"", "image/png"))
    with pytest.raises(ValueError, match="not an image"):
        wire_bytes(QueryImage(b"GIF89a nonsense", "image/gif"))
    truncated = encode(face_pixels(0), "BMP")[:400]
    with pytest.raises(ValueError, match="corrupt or truncated"):
        wire_bytes(QueryImage(truncated, "image/bmp"))
