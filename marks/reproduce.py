"""Rebuild a marked copy byte for byte as ``mark_folder`` wrote it, or with another mark.

A face audit asks a service whether it holds the very copy a person posted. The probe
that asks it must be that copy: the original photo blended with the posted mark at the
posted α and encoded exactly as ``marks.marking`` encoded it (same decoder, format,
quality and metadata policy), so its bytes, and every model's view of them, are
identical. The same photo with another mark is encoded the same way, so the only
difference between the probes of two marks is the mark.

The format follows ``marks.marking``: a source whose suffix the marked copy keeps is
written in its own format (``marks.imageio.output_format``), any other (GIF, PGM, ...)
as PNG. The original is only read.
"""

from __future__ import annotations

from pathlib import Path

from marks.blend import blend
from marks.folder_scan import KEPT_SUFFIXES
from marks.imageio import FALLBACK_FORMAT, encode_image, output_format, read_image
from marks.mark import Mark
from marks.prepare_rekognition import MAX_IMAGE_BYTES
from marks.regular_file import read_regular
from marks.upload_files import encode_within


def copy_format(source: Path, decoded_format: str) -> str:
    """The format ``mark_folder`` writes the marked copy of ``source`` in."""
    if Path(source).suffix.lower() not in KEPT_SUFFIXES:
        return FALLBACK_FORMAT  # the copy was renamed to .png
    return output_format(decoded_format)[0]


def marked_copy(
    source: Path,
    mark: Mark,
    alpha: float,
    *,
    keep_metadata: bool = False,
    data: bytes | None = None,
) -> bytes:
    """The bytes ``mark_folder`` writes for ``source`` marked with ``mark`` at ``alpha``.

    ``keep_metadata`` must be what the marking run used (its manifest records it).
    ``data`` are the source's bytes when already read. Raises ``ImageError`` for a
    source that cannot be read and ``MarkingError`` for a bad α.
    """
    source = Path(source)
    data = read_regular(source) if data is None else data
    decoded = read_image(source, data)
    return encode_image(
        blend(decoded.rgb, mark, alpha),
        decoded.alpha,
        copy_format(source, decoded.format),
        exif=decoded.exif if keep_metadata else None,
        xmp=decoded.xmp if keep_metadata else None,
        icc_profile=decoded.icc_profile,
    )


def plan_copy(source: Path, mark: Mark, alpha: float) -> bytes:
    """The bytes ``prepare rekognition`` writes for ``source`` marked with ``mark``.

    A JPEG within Rekognition's 5 MB (``marks.prepare_rekognition``); the experiment's
    probes with external marks are encoded the same way. Raises ``ImageError``.
    """
    rgb = read_image(Path(source)).rgb
    data, _ = encode_within(blend(rgb, mark, alpha), None, "JPEG", MAX_IMAGE_BYTES)
    return data
