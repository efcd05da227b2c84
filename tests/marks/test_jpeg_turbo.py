"""The libjpeg-turbo path: same pixels as Pillow, Pillow decides on anything odd, ICC kept."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms

from marks import jpeg_turbo
from marks.errors import ImageError
from marks.imageio import encode_image, read_image


def _pillow_rgb(data: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(data)) as image:
        return np.asarray(image.convert("RGB"))


def _spy(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Record each turbo decode attempt and whether it produced pixels."""
    calls: list[bool] = []
    real = jpeg_turbo.decode_rgb

    def spy(data: bytes) -> np.ndarray | None:
        out = real(data)
        calls.append(out is not None)
        return out

    monkeypatch.setattr(jpeg_turbo, "decode_rgb", spy)
    return calls


@pytest.mark.parametrize(
    "options",
    [
        {"quality": 90},  # 4:2:0, as cameras write
        {"quality": 95, "subsampling": 0},
        {"quality": 85, "progressive": True},
    ],
)
def test_colour_jpeg_decoded_by_turbo_equals_pillow(
    tmp_path: Path, kit, monkeypatch: pytest.MonkeyPatch, options: dict
) -> None:
    data = kit.jpeg_bytes(kit.photo(37, 53, seed=1), **options)
    path = tmp_path / "a.jpg"
    path.write_bytes(data)
    calls = _spy(monkeypatch)
    decoded = read_image(path)
    assert calls == [True]
    assert np.array_equal(decoded.rgb, _pillow_rgb(data))
    assert decoded.format == "JPEG" and decoded.alpha is None


def test_grey_jpeg_becomes_grey_rgb_via_turbo(
    tmp_path: Path, kit, monkeypatch: pytest.MonkeyPatch
) -> None:
    grey = kit.photo(24, 31, seed=2)[..., 0]
    data = kit.jpeg_bytes(grey, quality=92)
    path = tmp_path / "g.jpg"
    path.write_bytes(data)
    calls = _spy(monkeypatch)
    rgb = read_image(path).rgb
    assert calls == [True]
    assert np.array_equal(rgb, _pillow_rgb(data))
    assert np.array_equal(rgb[..., 0], rgb[..., 2])


def test_cmyk_and_rotated_jpegs_stay_with_pillow(
    tmp_path: Path, kit, monkeypatch: pytest.MonkeyPatch
) -> None:
    cmyk = tmp_path / "c.jpg"
    Image.fromarray(kit.photo(seed=3)).convert("CMYK").save(cmyk, quality=95)
    rotated = tmp_path / "r.jpg"
    exif = Image.Exif()
    exif[0x0112] = 6
    Image.fromarray(kit.photo(20, 30, seed=4)).save(rotated, quality=95, exif=exif.tobytes())
    calls = _spy(monkeypatch)
    assert read_image(rotated).rgb.shape == (30, 20, 3)  # turned upright by Pillow
    assert read_image(cmyk).rgb.shape == (48, 64, 3)
    assert calls == []


def test_what_turbo_refuses_pillow_decides(
    tmp_path: Path, kit, monkeypatch: pytest.MonkeyPatch
) -> None:
    data = kit.jpeg_bytes(kit.photo(seed=5), quality=90)
    # Junk between the scan and EOI: libjpeg only warns, so Pillow reads the file;
    # the strict turbo decoder refuses it and must hand it over, not fail it.
    warned = data[:-2] + b"\x00junk" + data[-2:]
    path = tmp_path / "w.jpg"
    path.write_bytes(warned)
    calls = _spy(monkeypatch)
    assert np.array_equal(read_image(path).rgb, _pillow_rgb(warned))
    assert calls == [False]
    # A truncated file is refused by both, with Pillow's reason.
    cut = tmp_path / "t.jpg"
    cut.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError, match=r"t\.jpg.*truncated"):
        read_image(cut)


def test_turbo_encode_matches_pillow_quality_settings(kit) -> None:
    pixels = kit.photo(40, 56, seed=6)
    data = encode_image(pixels, None, "JPEG")
    with Image.open(io.BytesIO(data)) as ours:
        reference = Image.open(io.BytesIO(kit.jpeg_bytes(pixels, quality=95, subsampling=0)))
        assert ours.quantization == reference.quantization
        assert ours.layer == reference.layer  # 4:4:4: every component sampled 1x1
        back = np.asarray(ours)
    assert np.abs(back.astype(int) - pixels).max() <= 8  # q95 rounding only


@pytest.mark.parametrize("size", [600, 200_000])  # one APP2 segment, then four
def test_icc_profile_spliced_and_read_back_identical(size: int, kit) -> None:
    base = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    profile = (base * (size // len(base) + 1))[:size]
    data = encode_image(kit.photo(seed=7), None, "JPEG", icc_profile=profile)
    assert data[2:4] == b"\xff\xe0"  # JFIF APP0 still comes first
    with Image.open(io.BytesIO(data)) as image:
        assert image.info["icc_profile"] == profile
        image.load()  # and the stream still decodes


def test_icc_profile_too_large_refused() -> None:
    with pytest.raises(ValueError, match="does not fit"):
        jpeg_turbo.with_icc_profile(b"\xff\xd8\xff\xd9", b"x" * (256 * 65519))


def test_metadata_kept_goes_through_pillow(kit) -> None:
    exif = Image.Exif()
    exif[0x010F] = "Camera maker"
    data = encode_image(kit.photo(seed=8), None, "JPEG", exif=exif.tobytes(), xmp=b"<x/>")
    with Image.open(io.BytesIO(data)) as image:
        assert image.getexif()[0x010F] == "Camera maker"
        assert image.info["xmp"] == b"<x/>"


def test_header_walk_reads_metadata_as_pillow_does(
    tmp_path: Path, kit, monkeypatch: pytest.MonkeyPatch
) -> None:
    base = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    profile = (base * 200)[:150_000]  # three APP2 segments
    exif = Image.Exif()
    exif[0x010F] = "Maker"
    exif[0x0112] = 1  # upright: stays on the fast path
    path = tmp_path / "m.jpg"
    Image.fromarray(kit.photo(seed=9)).save(
        path, quality=90, icc_profile=profile, exif=exif.tobytes(), xmp=b"<xmp/>"
    )
    calls = _spy(monkeypatch)
    decoded = read_image(path)
    assert calls == [True]
    with Image.open(path) as reference:
        assert decoded.icc_profile == reference.info["icc_profile"] == profile
        assert decoded.exif == reference.info["exif"]
        assert decoded.xmp == reference.info["xmp"]
        assert decoded.mode == reference.mode and decoded.format == "JPEG"


@pytest.mark.parametrize(
    "data",
    [b"\xff\xd8\xff\xe1\x00", b"GIF89a", b"\xff\xd8\xff\xe0\x00\x01abc", b"\xff\xd8\x00\x00\x00"],
)
def test_malformed_headers_go_to_pillow(data: bytes) -> None:
    assert jpeg_turbo.read_header(data) is None


def test_bomb_refused_before_turbo_decodes(tmp_path: Path, kit, monkeypatch) -> None:
    path = tmp_path / "big.jpg"
    path.write_bytes(kit.jpeg_bytes(kit.photo(64, 64, seed=10)))
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 1000)
    calls = _spy(monkeypatch)
    with pytest.raises(ImageError, match="decompression bomb"):
        read_image(path)
    assert calls == []


def test_corrupt_exif_handled_as_by_pillow(tmp_path: Path, kit) -> None:
    # Unparsable EXIF cannot tell the orientation; Pillow's path reads such files.
    data = kit.jpeg_bytes(kit.photo(seed=11), quality=90)
    segment = b"Exif\x00\x00garbage"
    app1 = b"\xff\xe1" + (len(segment) + 2).to_bytes(2, "big") + segment
    path = tmp_path / "e.jpg"
    path.write_bytes(data[:2] + app1 + data[2:])
    assert np.array_equal(read_image(path).rgb, _pillow_rgb(path.read_bytes()))
