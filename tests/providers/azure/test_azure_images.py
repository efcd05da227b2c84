"""Images fitted to the service's rules, deterministically; unusable ones refused clearly."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import Image

from providers.azure.image_fit import ImageLimits, UnusableImageError, fit_image
from providers.errors import BadImageError
from providers.query import QueryImage


def _encode(pixels: np.ndarray, fmt: str, **options: object) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, fmt, **options)
    return buf.getvalue()


def _noise(height: int, width: int, channels: int = 3, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (height, width, channels), dtype=np.uint8)


def _size(data: bytes) -> tuple[str, tuple[int, int], str]:
    with Image.open(io.BytesIO(data)) as image:
        return image.format or "", image.size, image.mode


def test_an_image_that_fits_is_sent_byte_for_byte():
    data = _encode(_noise(60, 80), "JPEG", quality=80)
    fitted = fit_image(data)
    assert fitted.data == data and not fitted.reencoded
    assert (fitted.format, fitted.width, fitted.height) == ("JPEG", 80, 60)


@pytest.mark.parametrize(
    ("size", "expected"),
    [((20, 20), (50, 50)), ((30, 20), (75, 50)), ((10, 400), (50, 2_000))],
)
def test_tiny_images_are_upscaled_to_50_pixels_a_side(size, expected):
    width, height = size
    fitted = fit_image(_encode(_noise(height, width), "PNG"))
    assert fitted.reencoded and fitted.format == "PNG"
    assert _size(fitted.data)[1] == (fitted.width, fitted.height) == expected


def test_a_side_over_16000_pixels_is_downscaled():
    fitted = fit_image(_encode(_noise(60, 16_050, seed=1), "PNG"))
    assert (fitted.width, fitted.height) == (16_000, 60)


def test_a_shape_no_allowed_size_keeps_is_refused():
    with pytest.raises(UnusableImageError, match="without changing its shape"):
        fit_image(_encode(_noise(10, 20_000), "PNG"))


def test_too_many_bytes_become_a_smaller_jpeg_deterministically():
    limits = ImageLimits(max_bytes=30_000)
    data = _encode(_noise(300, 300, seed=2), "PNG")
    assert len(data) > limits.max_bytes
    first, second = fit_image(data, limits), fit_image(data, limits)
    assert first == second  # the same query image always sends the same bytes
    assert first.format == "JPEG" and len(first.data) <= limits.max_bytes
    assert min(first.width, first.height) >= 50


def test_a_real_20_mb_image_is_reencoded_under_the_limit():
    data = _encode(_noise(2_600, 2_600, seed=3), "PNG", compress_level=0)
    assert len(data) > 20_000_000
    fitted = fit_image(data)
    assert fitted.reencoded and len(fitted.data) <= 20_000_000
    assert (fitted.width, fitted.height) == (2_600, 2_600)  # JPEG alone made it fit


def test_formats_the_service_does_not_read_become_png():
    fitted = fit_image(_encode(_noise(64, 64), "PPM"))
    assert fitted.reencoded and fitted.format == "PNG"
    assert _size(fitted.data) == ("PNG", (64, 64), "RGB")


def test_transparency_is_kept_when_upscaling():
    fitted = fit_image(_encode(_noise(20, 20, channels=4), "PNG"))
    assert _size(fitted.data) == ("PNG", (50, 50), "RGBA")


def test_a_small_jpeg_stays_jpeg():
    fitted = fit_image(_encode(_noise(30, 30), "JPEG"))
    assert fitted.format == "JPEG" and (fitted.width, fitted.height) == (50, 50)


def test_bytes_that_are_no_image_are_refused():
    with pytest.raises(UnusableImageError, match="not an image"):
        fit_image(b"this is not an image")


def test_the_service_accepts_refitted_images_and_they_repeat_exactly(make_tagger, fake, query):
    tagger = make_tagger()
    tiny = query("grass", side=20)
    huge = QueryImage.from_array(np.full((60, 16_050, 3), (60, 170, 60), np.uint8))
    before = len(fake.served)
    first = tagger.classify([tiny, huge])
    again = tagger.classify([tiny])
    seen = fake.served[before:]
    assert [s.status for s in seen] == [200, 200, 200]
    assert seen[0].body_sha256 == seen[2].body_sha256 != tiny.digest
    assert "grass" in first[0].values and first == [again[0], first[1]]


def test_an_unusable_image_is_refused_before_anything_is_sent(make_tagger, fake):
    tagger = make_tagger()
    garbage = QueryImage(b"definitely not a picture", "image/png")
    before = len(fake.served)
    with pytest.raises(BadImageError, match=rf"image sha256:{garbage.digest[:12]} cannot be sent"):
        tagger.classify([garbage])
    assert len(fake.served) == before


def test_an_image_the_service_refuses_is_a_bad_image_naming_it(make_tagger, query):
    tagger = make_tagger(limits=ImageLimits(min_side=1))  # let a 20×20 image through
    image = query("sky", side=20)
    with pytest.raises(BadImageError) as caught:
        tagger.classify([image])
    message = str(caught.value)
    assert (
        f"the service refused the image (image sha256:{image.digest[:12]}, sent as 20×20 PNG"
        in message
    )
    assert "HTTP 400 InvalidImageSize" in message


def test_a_damaged_image_the_service_cannot_read_is_a_bad_image(make_tagger, query):
    data = query("sky").data
    truncated = QueryImage(data[: len(data) // 2], "image/png")  # header intact, pixels cut
    with pytest.raises(BadImageError, match="InvalidImageFormat"):
        make_tagger().classify([truncated])
