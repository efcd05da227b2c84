"""Reading every kind of file a photo folder holds: modes, orientation, broken files."""

from __future__ import annotations

import io
import os
import struct
import warnings
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from marks.errors import ImageError
from marks.imageio import check_image, encode_image, load_rgb, read_image


def png_header_only(width: int, height: int) -> bytes:
    """A PNG that declares ``width`` x ``height`` (a decompression bomb's header)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", ihdr)
        + chunk(b"IDAT", zlib.compress(b""))
        + chunk(b"IEND", b"")
    )


def test_cmyk_jpeg(tmp_path: Path) -> None:
    path = tmp_path / "cmyk.jpg"
    Image.new("CMYK", (16, 8), (0, 0, 0, 0)).save(path, "JPEG", quality=95)
    rgb = load_rgb(path)
    assert rgb.shape == (8, 16, 3) and rgb.dtype == np.uint8
    assert rgb.min() >= 250  # no ink: white
    assert read_image(path).icc_profile is None  # a CMYK profile would not fit RGB pixels


def test_16bit_png_scaled_not_clipped(tmp_path: Path) -> None:
    values = np.array([[0, 257 * 128, 65535, 1000]], dtype=np.uint16)
    path = tmp_path / "deep.png"
    Image.fromarray(values).save(path)  # uint16 -> mode I;16
    assert Image.open(path).mode.startswith("I")
    rgb = load_rgb(path)
    assert rgb[0, :, 0].tolist() == [0, 128, 255, 4]  # 1000*255/65535 ≈ 3.9
    assert np.array_equal(rgb[..., 0], rgb[..., 2])


def test_palette_with_transparency_keeps_alpha(tmp_path: Path) -> None:
    image = Image.new("P", (4, 4), 0)
    image.putpalette([255, 0, 0, 0, 255, 0] + [0] * 762)
    image.putpixel((0, 0), 1)
    image.info["transparency"] = 0
    path = tmp_path / "pal.png"
    image.save(path, transparency=0)
    decoded = read_image(path)
    assert decoded.alpha is not None
    assert decoded.alpha[0, 0] == 255 and decoded.alpha[1, 1] == 0
    assert decoded.rgb[0, 0].tolist() == [0, 255, 0]


def test_grayscale_becomes_grey_rgb(tmp_path: Path, kit) -> None:
    grey = np.arange(48, dtype=np.uint8).reshape(6, 8)
    path = kit.save(tmp_path / "g.png", grey)
    rgb = load_rgb(path)
    assert rgb.shape == (6, 8, 3)
    for c in range(3):
        assert np.array_equal(rgb[..., c], grey)


def test_rgba_and_la_keep_alpha(tmp_path: Path, kit) -> None:
    rgba = np.zeros((5, 5, 4), np.uint8)
    rgba[..., 3] = 77
    decoded = read_image(kit.save(tmp_path / "a.png", rgba))
    assert decoded.alpha is not None and set(np.unique(decoded.alpha)) == {77}
    la = Image.fromarray(np.full((3, 3, 2), (9, 200), np.uint8), "LA")
    la.save(tmp_path / "la.png")
    decoded = read_image(tmp_path / "la.png")
    assert decoded.rgb[0, 0].tolist() == [9, 9, 9] and decoded.alpha[0, 0] == 200


def test_exif_rotation_applied(tmp_path: Path) -> None:
    stored = np.zeros((10, 20, 3), np.uint8)
    stored[:, :10] = (255, 0, 0)  # left half red
    stored[:, 10:] = (0, 0, 255)  # right half blue
    exif = Image.Exif()
    exif[0x0112] = 6  # display rotated 90° clockwise
    path = tmp_path / "rot.jpg"
    Image.fromarray(stored).save(path, quality=95, exif=exif.tobytes())
    rgb = load_rgb(path)
    assert rgb.shape == (20, 10, 3)  # upright: portrait
    assert rgb[2, 5, 0] > 200 and rgb[2, 5, 2] < 60  # left went to the top
    assert rgb[17, 5, 2] > 200


def test_exif_kept_only_without_orientation(tmp_path: Path) -> None:
    exif = Image.Exif()
    exif[0x0112] = 6
    exif[0x010F] = "CameraMaker"
    path = tmp_path / "meta.jpg"
    Image.new("RGB", (8, 4)).save(path, exif=exif.tobytes())
    decoded = read_image(path)
    data = encode_image(decoded.rgb, None, "JPEG", exif=decoded.exif)
    kept = Image.open(io.BytesIO(data)).getexif()
    assert kept.get(0x010F) == "CameraMaker" and 0x0112 not in kept
    stripped = Image.open(io.BytesIO(encode_image(decoded.rgb, None, "JPEG"))).getexif()
    assert len(stripped) == 0


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty file"),
        (b"just some text, not a picture\n", "not an image"),
    ],
)
def test_broken_files(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "x.jpg"
    path.write_bytes(content)
    with pytest.raises(ImageError, match=message) as caught:
        load_rgb(path)
    assert str(path) in str(caught.value)
    assert isinstance(caught.value, ValueError)


def test_truncated_jpeg_caught_by_cheap_check(tmp_path: Path, kit) -> None:
    data = kit.jpeg_bytes(kit.photo(64, 64), quality=95)
    path = tmp_path / "cut.jpg"
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageError, match="truncated"):
        check_image(path)
    with pytest.raises(ImageError, match="truncated"):
        load_rgb(path)


def test_decompression_bombs_refused(tmp_path: Path) -> None:
    over_twice = tmp_path / "bomb.png"
    over_twice.write_bytes(png_header_only(40000, 40000))
    with pytest.raises(ImageError, match="decompression bomb"):
        load_rgb(over_twice)
    just_over = tmp_path / "bomb2.png"
    just_over.write_bytes(png_header_only(10000, 10000))  # over the limit, under twice it
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        with pytest.raises(ImageError, match="decompression bomb"):
            check_image(just_over)


def test_unreadable_files(tmp_path: Path) -> None:
    dangling = tmp_path / "gone.jpg"
    dangling.symlink_to(tmp_path / "nowhere.jpg")
    with pytest.raises(ImageError, match="cannot read"):
        load_rgb(dangling)
    folder = tmp_path / "dir.jpg"
    folder.mkdir()
    with pytest.raises(ImageError, match="cannot read"):
        load_rgb(folder)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads files whatever their mode")
def test_permission_denied(tmp_path: Path, kit) -> None:
    path = kit.save(tmp_path / "locked.png", kit.photo())
    path.chmod(0)
    with pytest.raises(ImageError, match="cannot read"):
        load_rgb(path)
