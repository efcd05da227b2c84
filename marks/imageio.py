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
- Files over Pillow's pixel limit (``Image.MAX_IMAGE_PIXELS``) are refused as
  decompression bombs; every failure is an ``ImageError`` naming the path.

Writing (``encode_pil``; ``encode_image`` for arrays): the source format is kept
where Pillow can write it faithfully (JPEG, PNG, WebP, TIFF, BMP; MPO as JPEG); other
formats (GIF, PGM/PPM, ICO, ...) become PNG, because a palette or grey format would
destroy a colour mark. JPEG is written at quality 95 with 4:4:4 chroma (no
subsampling: the mark's colour detail survives); WebP at quality 95; PNG/TIFF
losslessly. A grey source comes out RGB (the mark has colour). Metadata: EXIF and
XMP are dropped by default because they can identify the person (GPS, camera serial,
name); ``keep_metadata`` keeps them (with the orientation tag removed, since the
pixels are already upright). The ICC colour profile is kept whenever the colour
space is unchanged (RGB sources): it describes the colours rather than the person, and
dropping it would shift them.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from marks.errors import ImageError

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


def _open(path: Path, data: bytes | None) -> Image.Image:
    try:
        if data is None:
            data = Path(path).read_bytes()
    except OSError as exc:
        raise ImageError(path, f"cannot read file ({exc.strerror or exc})") from None
    if not data:
        raise ImageError(path, "empty file (0 bytes)")
    try:
        image = Image.open(io.BytesIO(data))
    except Image.DecompressionBombError as exc:
        raise ImageError(path, f"refused as a decompression bomb ({exc})") from None
    except UnidentifiedImageError:
        raise ImageError(path, "not an image Pillow can identify (wrong type or corrupt)") from None
    except (OSError, ValueError, SyntaxError) as exc:
        raise ImageError(path, f"cannot open image ({exc})") from None
    pixels = image.width * image.height
    if Image.MAX_IMAGE_PIXELS is not None and pixels > Image.MAX_IMAGE_PIXELS:
        raise ImageError(
            path,
            f"refused as a decompression bomb ({image.width}x{image.height} = {pixels} pixels "
            f"> limit {Image.MAX_IMAGE_PIXELS})",
        )
    if image.width == 0 or image.height == 0:
        raise ImageError(path, "image has no pixels")
    return image


def check_image(path: Path, data: bytes | None = None) -> ImageInfo:
    """Check that ``path`` (or ``data``) decodes completely; cheap for JPEG.

    JPEGs are decoded at 1/8 scale (libjpeg's DCT scaling reads every byte, so
    truncation and corruption still show) which costs a fraction of a full decode.
    Raises ``ImageError``.
    """
    image = _open(path, data)
    with image:
        info = ImageInfo(image.format or "?", image.mode, image.width, image.height)
        try:
            if canonical_format(image.format or "") == "JPEG":
                image.draft(image.mode, (max(1, image.width // 8), max(1, image.height // 8)))
            image.load()
        except (OSError, ValueError, SyntaxError, EOFError) as exc:
            raise ImageError(path, f"corrupt or truncated image data ({exc})") from None
    return info


@dataclass(frozen=True)
class UprightImage:
    """A decoded, upright image as Pillow objects: ``image`` is RGB, ``alpha`` is "L"."""

    image: Image.Image
    alpha: Image.Image | None
    format: str
    mode: str
    exif: bytes | None
    xmp: bytes | None
    icc_profile: bytes | None


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


def open_upright(path: Path, data: bytes | None = None) -> UprightImage:
    """Decode ``path`` (or its already-read ``data``) to an upright RGB Pillow image.

    The fast path for marking: no numpy round trip. See the module docstring for
    mode conversions. Raises ``ImageError``.
    """
    image = _open(path, data)
    fmt, mode = image.format or "?", image.mode
    try:
        image.load()
        # Only parse EXIF when there is some (TIFF keeps orientation among its tags).
        has_exif = fmt == "TIFF" or bool(image.info.get("exif"))
        if has_exif and image.getexif().get(_ORIENTATION_TAG, 1) in range(2, 9):
            image = ImageOps.exif_transpose(image)
        rgb, alpha = _split_rgb_alpha(image)
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise ImageError(path, f"corrupt or truncated image data ({exc})") from None
    icc = image.info.get("icc_profile") if mode in _RGB_SPACES else None
    xmp = image.info.get("xmp")
    return UprightImage(
        image=rgb,
        alpha=alpha,
        format=fmt,
        mode=mode,
        exif=image.info.get("exif"),
        xmp=xmp.encode() if isinstance(xmp, str) else xmp,
        icc_profile=icc or None,
    )


def read_image(path: Path, data: bytes | None = None) -> DecodedImage:
    """Decode ``path`` (or its already-read ``data``) to upright RGB numpy arrays.

    See the module docstring for mode conversions. Raises ``ImageError``.
    """
    upright = open_upright(path, data)
    return DecodedImage(
        rgb=np.asarray(upright.image),
        alpha=None if upright.alpha is None else np.asarray(upright.alpha),
        format=upright.format,
        mode=upright.mode,
        exif=upright.exif,
        xmp=upright.xmp,
        icc_profile=upright.icc_profile,
    )


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
    """Encode RGB (+ alpha) uint8 arrays in ``fmt``; see ``encode_pil``."""
    return encode_pil(
        Image.fromarray(rgb, "RGB"),
        None if alpha is None else Image.fromarray(alpha, "L"),
        fmt,
        exif=exif,
        xmp=xmp,
        icc_profile=icc_profile,
    )


def encode_pil(
    image: Image.Image,
    alpha: Image.Image | None,
    fmt: str,
    *,
    exif: bytes | None = None,
    xmp: bytes | None = None,
    icc_profile: bytes | None = None,
) -> bytes:
    """Encode an RGB image (+ "L" alpha) in ``fmt`` with the module docstring's settings.

    JPEG cannot hold alpha, so it is dropped there; every other kept format stores it.
    Pass ``exif``/``xmp`` only when metadata should be kept.
    """
    if alpha is not None and fmt != "JPEG":
        image = image.convert("RGBA")
        image.putalpha(alpha)
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
