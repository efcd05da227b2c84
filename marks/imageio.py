"""Image reading and writing with the conversions a photo collection needs.

Reading (``read_image``, ``load_rgb``):

- EXIF orientation is applied first, so a mark lands on the picture as people see it.
- Modes become 8-bit RGB, with the alpha channel kept apart when there is one:
  ``L``/``1`` are replicated to grey RGB; ``LA``/``PA``/``RGBA``/``RGBa``, and ``P``
  with a transparent colour, keep their alpha; ``CMYK`` (including Adobe-inverted CMYK
  JPEG) and ``YCbCr``/``LAB``/``HSV`` use Pillow's conversion to RGB; 16-bit
  ``I;16*`` and ``I`` are scaled from 0..65535 to 0..255 (``v·255/65535``, rounded;
  Pillow's own conversion would clip everything above 255 to white); ``F`` is taken as
  0..1 when its maximum is at most 1, else clipped to 0..255.
- Files over Pillow's pixel limit (``Image.MAX_IMAGE_PIXELS``, 89.5 megapixels) are
  refused as decompression bombs; only regular files of at most
  ``marks.regular_file.MAX_FILE_BYTES`` (300 MB) are read (a FIFO or a device is
  refused, not waited on or read forever); every failure is an ``ImageError`` naming
  the path.

Writing (``encode_image``): the source format is kept where Pillow can write it
faithfully (JPEG, PNG, WebP, TIFF, BMP; MPO as JPEG); other formats (GIF, PGM/PPM, ICO,
...) become PNG, because a palette or grey format would destroy a colour mark. JPEG is
written at quality 95 with 4:4:4 chroma (no subsampling: the mark's colour detail
survives); WebP at quality 95; PNG/TIFF losslessly. A grey source comes out RGB (the
mark has colour). Metadata: EXIF and XMP are dropped by default because they can
identify the person (GPS, camera serial, name); ``keep_metadata`` keeps them (with the
orientation tag removed, since the pixels are already upright). The ICC colour profile
is kept whenever the colour space is unchanged (RGB sources): it describes the colours
rather than the person, and dropping it would shift them.

Plain JPEGs go through libjpeg-turbo directly (``marks.jpeg_turbo``) both ways; the
pixels read are Pillow's, and the files written use the same quality tables.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from marks import jpeg_turbo
from marks.errors import ImageError
from marks.regular_file import read_regular

JPEG_QUALITY = 95
WEBP_QUALITY = 95
PNG_COMPRESS_LEVEL = 6

# Formats written back as themselves, and the suffix used for everything else.
_KEPT_FORMATS = {"JPEG", "PNG", "WEBP", "TIFF", "BMP"}
FALLBACK_FORMAT = "PNG"
FALLBACK_SUFFIX = ".png"

_ORIENTATION_TAG = 0x0112
_RGB_SPACES = {"RGB", "RGBA", "RGBa", "RGBX", "P", "PA"}


@dataclass(frozen=True)
class DecodedImage:
    """An upright 8-bit RGB image with its alpha and what is needed to write it back."""

    rgb: np.ndarray  # uint8 (H, W, 3)
    alpha: np.ndarray | None  # uint8 (H, W) or None
    format: str  # Pillow's format name of the source, e.g. "JPEG"
    mode: str  # the source's Pillow mode, e.g. "CMYK"
    exif: bytes | None
    xmp: bytes | None
    icc_profile: bytes | None


@dataclass(frozen=True)
class ImageInfo:
    """What a cheap validity check learned about a file."""

    format: str
    mode: str
    width: int
    height: int


def _bytes(path: Path, data: bytes | None) -> bytes:
    if data is None:
        data = read_regular(path)  # regular files only, at most MAX_FILE_BYTES
    if not data:
        raise ImageError(path, "empty file (0 bytes)")
    return data


def _check_size(path: Path, width: int, height: int) -> None:
    pixels = width * height
    if Image.MAX_IMAGE_PIXELS is not None and pixels > Image.MAX_IMAGE_PIXELS:
        raise ImageError(
            path,
            f"refused as a decompression bomb ({width}x{height} = {pixels} pixels "
            f"> limit {Image.MAX_IMAGE_PIXELS})",
        )
    if width == 0 or height == 0:
        raise ImageError(path, "image has no pixels")


def _open(path: Path, data: bytes) -> Image.Image:
    # Parses the header only; the size is checked before any pixel is decoded.
    try:
        image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as exc:
        raise ImageError(path, f"refused as a decompression bomb ({exc})") from None
    except UnidentifiedImageError:
        raise ImageError(path, "not an image Pillow can identify (wrong type or corrupt)") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise ImageError(path, f"cannot open image ({exc})") from None
    _check_size(path, image.width, image.height)
    return image


def check_image(path: Path, data: bytes | None = None) -> ImageInfo:
    """Check that ``path`` (or ``data``) decodes completely; cheap for JPEG.

    JPEGs are decoded at 1/8 scale (libjpeg's DCT scaling reads every byte, so
    truncation and corruption still show) which costs a fraction of a full decode.
    Raises ``ImageError``.
    """
    image = _open(path, _bytes(path, data))
    with image:
        info = ImageInfo(image.format or "?", image.mode, image.width, image.height)
        try:
            if canonical_format(image.format or "") == "JPEG":
                image.draft(image.mode, (max(1, image.width // 8), max(1, image.height // 8)))
            image.load()
        except (OSError, ValueError, SyntaxError, EOFError) as exc:
            raise ImageError(path, f"corrupt or truncated image data ({exc})") from None
    return info


def _deep_to_rgb(image: Image.Image) -> Image.Image:
    # 16/32-bit grey and float: scaled in numpy (Pillow's own conversion clips at 255).
    if image.mode == "F":
        values = np.nan_to_num(np.asarray(image, dtype=np.float32))
        scale = 255.0 if values.size and float(values.max()) <= 1.0 else 1.0
        grey = np.clip(np.rint(values * scale), 0, 255).astype(np.uint8)
    else:
        wide = np.clip(np.asarray(image).astype(np.int64), 0, 65535)
        grey = ((wide * 255 + 32767) // 65535).astype(np.uint8)
    return Image.fromarray(np.repeat(grey[..., None], 3, axis=2), "RGB")


def _split_rgb_alpha(image: Image.Image) -> tuple[Image.Image, Image.Image | None]:
    mode = image.mode
    if mode == "RGB":
        return image, None
    if mode in ("RGBA", "RGBa", "LA", "La", "PA") or (mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        return rgba.convert("RGB"), rgba.getchannel("A")
    if mode.startswith("I;16") or mode in ("I", "F"):
        return _deep_to_rgb(image), None
    return image.convert("RGB"), None


def _needs_turning(image: Image.Image) -> bool:
    # Only parse EXIF when there is some (TIFF keeps orientation among its tags).
    has_exif = image.format == "TIFF" or bool(image.info.get("exif"))
    return has_exif and image.getexif().get(_ORIENTATION_TAG, 1) in range(2, 9)


def _turned(exif: bytes | None) -> bool:
    if not exif:
        return False
    parsed = Image.Exif()
    parsed.load(exif)
    return parsed.get(_ORIENTATION_TAG, 1) in range(2, 9)


def _read_turbo(path: Path, data: bytes) -> DecodedImage | None:
    # A plain upright 8-bit colour or grey JPEG: libjpeg-turbo straight to numpy,
    # without Pillow's header parsing. None sends the file to Pillow.
    header = jpeg_turbo.read_header(data)
    try:
        if header is None or _turned(header.exif):
            return None
    except (SyntaxError, ValueError, OSError):
        return None  # unreadable EXIF: Pillow's path reports it
    _check_size(path, header.width, header.height)
    rgb = jpeg_turbo.decode_rgb(data)
    if rgb is None or rgb.shape[:2] != (header.height, header.width):
        return None
    return DecodedImage(
        rgb=rgb,
        alpha=None,
        format="JPEG",
        mode="L" if header.grey else "RGB",
        exif=header.exif,
        xmp=header.xmp,
        icc_profile=None if header.grey else header.icc_profile,
    )


def read_image(path: Path, data: bytes | None = None) -> DecodedImage:
    """Decode ``path`` (or its already-read ``data``) to upright RGB numpy arrays.

    See the module docstring for mode conversions. Plain JPEGs are decoded by
    libjpeg-turbo directly (``marks.jpeg_turbo``, same pixels as Pillow); everything
    else, and anything it refuses, by Pillow. Raises ``ImageError``.
    """
    data = _bytes(path, data)
    fast = _read_turbo(path, data)
    if fast is not None:
        return fast
    image = _open(path, data)
    fmt, mode = image.format or "?", image.mode
    icc = image.info.get("icc_profile") if mode in _RGB_SPACES else None
    xmp = image.info.get("xmp")
    try:
        image.load()
        if _needs_turning(image):
            image = ImageOps.exif_transpose(image)
        rgb_image, alpha_image = _split_rgb_alpha(image)
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise ImageError(path, f"corrupt or truncated image data ({exc})") from None
    return DecodedImage(
        rgb=np.asarray(rgb_image),
        alpha=None if alpha_image is None else np.asarray(alpha_image),
        format=fmt,
        mode=mode,
        exif=image.info.get("exif"),
        xmp=xmp.encode() if isinstance(xmp, str) else xmp,
        icc_profile=icc or None,
    )


def peek_pixels(data: bytes) -> int:
    """Width × height read from the header alone, without decoding; 0 when unreadable.

    Lets a caller reserve memory (``marks.pixel_budget``) before decoding.
    """
    header = jpeg_turbo.read_header(data)
    if header is not None:
        return header.width * header.height
    try:
        with Image.open(io.BytesIO(data)) as image:
            return image.width * image.height
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError):
        return 0  # read_image reports the problem itself


def load_rgb(path: Path) -> np.ndarray:
    """Load ``path`` as uint8 (H, W, 3) RGB, EXIF orientation applied, alpha dropped.

    Raises ``ImageError`` (a ``ValueError``) naming the path and the problem.
    """
    return read_image(Path(path)).rgb


def canonical_format(source_format: str) -> str:
    """Pillow's format name, with phone cameras' multi-picture JPEG (MPO) as JPEG."""
    return "JPEG" if source_format == "MPO" else source_format


def output_format(source_format: str) -> tuple[str, str | None]:
    """The format a marked copy is written in, and the suffix to use (None: keep it)."""
    fmt = canonical_format(source_format)
    if fmt in _KEPT_FORMATS:
        return fmt, None
    return FALLBACK_FORMAT, FALLBACK_SUFFIX


def encode_image(
    rgb: np.ndarray,
    alpha: np.ndarray | None,
    fmt: str,
    *,
    exif: bytes | None = None,
    xmp: bytes | None = None,
    icc_profile: bytes | None = None,
) -> bytes:
    """Encode RGB (+ alpha) uint8 arrays in ``fmt`` with the module docstring's settings.

    JPEG cannot hold alpha, so it is dropped there; every other kept format stores it.
    Pass ``exif``/``xmp`` only when metadata should be kept. JPEG without EXIF/XMP is
    encoded by libjpeg-turbo (``marks.jpeg_turbo``; Pillow's quality tables, and no
    GIL held); the rest by Pillow.
    """
    if fmt == "JPEG" and not exif and not xmp:
        return jpeg_turbo.encode_rgb(rgb, JPEG_QUALITY, icc_profile=icc_profile)
    image = Image.fromarray(rgb, "RGB")
    if alpha is not None and fmt != "JPEG":
        image.putalpha(Image.fromarray(alpha, "L"))
    options: dict = {}
    if icc_profile:
        options["icc_profile"] = icc_profile
    if exif:
        options["exif"] = _without_orientation(exif)
    if fmt == "JPEG":
        options.update(quality=JPEG_QUALITY, subsampling=0)
        if xmp:
            options["xmp"] = xmp
    elif fmt == "WEBP":
        options.update(quality=WEBP_QUALITY)
        if xmp:
            options["xmp"] = xmp
    elif fmt == "PNG":
        options.update(compress_level=PNG_COMPRESS_LEVEL)
    elif fmt == "TIFF":
        options.update(compression="tiff_adobe_deflate")
    buf = io.BytesIO()
    image.save(buf, fmt, **options)
    return buf.getvalue()


def _without_orientation(exif: bytes) -> bytes:
    # The pixels were rotated upright already; a surviving tag would rotate them twice.
    parsed = Image.Exif()
    parsed.load(exif)
    if _ORIENTATION_TAG in parsed:
        del parsed[_ORIENTATION_TAG]
    return parsed.tobytes()
