"""JPEG pixels through libjpeg-turbo's TurboJPEG API (``simplejpeg``).

Pillow decodes JPEG line by line into its 4-byte internal layout, and encodes into a
``BytesIO`` without releasing the GIL. simplejpeg decodes straight into a numpy RGB
array and encodes from one, both with the GIL released, in about 60% of Pillow's
decode time on photos (``benchmarks/mark_throughput.py`` measures the effect on
marking). It is the same libjpeg-turbo underneath: decoded pixels are identical to
Pillow's, and the encoder uses the same quantization tables at the same quality.

It is an accelerator, never the judge: callers use it only for plain 8-bit
colour/greyscale JPEGs, and anything it refuses (including the recoverable errors
libjpeg only warns about) goes back to Pillow, whose verdict is the one reported.
The metadata a caller needs (EXIF, XMP, ICC profile) is read by walking the marker
segments before the scan, as Pillow's JPEG plugin does, but without parsing the
tables Pillow builds in Python (a tenth of a millisecond per file, under the GIL).
simplejpeg cannot write metadata, so an ICC profile is spliced in as APP2 segments
the way the ICC specification (annex B.4) lays them out; EXIF/XMP are left to Pillow.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import simplejpeg

_SOI = b"\xff\xd8"
_APP0 = b"\xff\xe0"
_APP2 = b"\xff\xe2"
_ICC_TAG = b"ICC_PROFILE\x00"
# A marker segment holds at most 65535 bytes including its 2-byte length, the
# 12-byte tag and the 2 sequence bytes.
_ICC_CHUNK = 65535 - 2 - len(_ICC_TAG) - 2
_EXIF_TAG = b"Exif\x00\x00"
_XMP_TAG = b"http://ns.adobe.com/xap/1.0/\x00"
_SOS = 0xDA
_STANDALONE = {0x01, *range(0xD0, 0xD8)}  # TEM and RSTn carry no length
_PLAIN_SPACES = {"YCbCr": False, "RGB": False, "Gray": True}  # colour space -> grey?


@dataclass(frozen=True)
class JpegHeader:
    """What marking needs to know about a plain JPEG before decoding it."""

    width: int
    height: int
    grey: bool
    exif: bytes | None  # the APP1 payload, "Exif\0\0" included (as Pillow keeps it)
    xmp: bytes | None
    icc_profile: bytes | None


def read_header(data: bytes) -> JpegHeader | None:
    """The header of a plain 8-bit colour or grey JPEG; ``None`` for anything else.

    ``None`` (CMYK/YCCK, not a JPEG, a malformed segment) sends the file to Pillow.
    """
    if not data.startswith(_SOI):
        return None
    try:
        height, width, space, _ = simplejpeg.decode_jpeg_header(data)
    except ValueError:
        return None
    if space not in _PLAIN_SPACES:
        return None
    exif = xmp = None
    icc: dict[int, bytes] = {}
    at = len(_SOI)
    while at + 4 <= len(data):
        if data[at] != 0xFF:
            return None
        marker = data[at + 1]
        if marker == 0xFF:  # fill byte before a marker
            at += 1
            continue
        if marker in _STANDALONE:
            at += 2
            continue
        if marker == _SOS:
            break
        length = int.from_bytes(data[at + 2 : at + 4], "big")
        payload = data[at + 4 : at + 2 + length]
        if length < 2 or len(payload) != length - 2:
            return None
        if marker == 0xE1 and payload.startswith(_EXIF_TAG) and exif is None:
            exif = payload
        elif marker == 0xE1 and payload.startswith(_XMP_TAG):
            xmp = payload[len(_XMP_TAG) :]
        elif marker == 0xE2 and payload.startswith(_ICC_TAG) and len(payload) > len(_ICC_TAG) + 2:
            icc[payload[len(_ICC_TAG)]] = payload[len(_ICC_TAG) + 2 :]
        at += 2 + length
    profile = b"".join(icc[number] for number in sorted(icc)) or None
    return JpegHeader(width, height, _PLAIN_SPACES[space], exif, xmp, profile)


def decode_rgb(data: bytes) -> np.ndarray | None:
    """Decode a JPEG to uint8 (H, W, 3) RGB, or ``None`` when libjpeg-turbo objects.

    ``strict=True`` makes libjpeg's warnings (corrupt data it would paper over)
    refusals too, so such files go to Pillow, which decides whether they are usable.
    """
    try:
        return simplejpeg.decode_jpeg(data, colorspace="RGB", strict=True)
    except ValueError:
        return None


def encode_rgb(rgb: np.ndarray, quality: int, *, icc_profile: bytes | None = None) -> bytes:
    """Encode uint8 (H, W, 3) RGB as baseline JPEG with 4:4:4 chroma at ``quality``."""
    data = simplejpeg.encode_jpeg(
        np.ascontiguousarray(rgb),
        quality=quality,
        colorspace="RGB",
        colorsubsampling="444",
        fastdct=False,  # the accurate DCT, as Pillow uses
    )
    return with_icc_profile(data, icc_profile) if icc_profile else data


def with_icc_profile(jpeg: bytes, icc_profile: bytes) -> bytes:
    """Return ``jpeg`` with ``icc_profile`` inserted after SOI and any JFIF APP0 segment."""
    if not jpeg.startswith(_SOI):
        raise ValueError("not a JPEG stream (no SOI marker)")
    chunks = [icc_profile[i : i + _ICC_CHUNK] for i in range(0, len(icc_profile), _ICC_CHUNK)]
    if len(chunks) > 255:
        raise ValueError(f"ICC profile of {len(icc_profile)} bytes does not fit in JPEG markers")
    segments = b"".join(
        _APP2
        + (2 + len(_ICC_TAG) + 2 + len(chunk)).to_bytes(2, "big")
        + _ICC_TAG
        + bytes((number, len(chunks)))
        + chunk
        for number, chunk in enumerate(chunks, start=1)
    )
    at = len(_SOI)
    if jpeg[at : at + 2] == _APP0:  # JFIF must stay the first segment
        at += 2 + int.from_bytes(jpeg[at + 2 : at + 4], "big")
    return jpeg[:at] + segments + jpeg[at:]
