"""Fitting query images into Vertex AI predict requests (about 1.5 MB of JSON each).

An image too large for one request is re-encoded as JPEG and, if still too large,
downscaled until it fits; the result depends only on the image's bytes, so the same
query always sends the same payload. Requests then carry as many instances as fit.
"""

from __future__ import annotations

import base64
import io
from collections.abc import Sequence
from dataclasses import dataclass

from PIL import Image

from providers.errors import ProviderOptionError
from providers.query import QueryImage

REQUEST_LIMIT = 1_500_000
"""Vertex AI's online prediction request limit in bytes (documented as 1.5 MB)."""
_ENVELOPE = 1_024  # {"instances": [...], "parameters": {...}} around the instances
_PER_INSTANCE = 64  # {"content": "...", "mimeType": "image/jpeg"} around the base64


@dataclass(frozen=True)
class Instance:
    """One predict instance and its size on the wire."""

    body: dict
    size: int


def _b64_size(n_bytes: int) -> int:
    return 4 * ((n_bytes + 2) // 3)


def _jpeg(image: Image.Image, quality: int) -> bytes:
    buf = io.BytesIO()
    image.save(buf, "JPEG", quality=quality)
    return buf.getvalue()


def fit_image(query: QueryImage, limit: int = REQUEST_LIMIT) -> tuple[bytes, str]:
    """The bytes and MIME type to send for ``query`` so one instance fits in ``limit``.

    Returns the original bytes when they fit. Raises ``ValueError`` when even a
    64-pixel thumbnail does not (a limit that small is a configuration error).
    """
    budget = limit - _ENVELOPE - _PER_INSTANCE
    if _b64_size(len(query.data)) <= budget:
        return query.data, query.mime_type
    with Image.open(io.BytesIO(query.data)) as opened:
        image = opened.convert("RGB")
    data = _jpeg(image, 90)
    while _b64_size(len(data)) > budget:
        width, height = image.size
        if max(width, height) <= 64:
            raise ProviderOptionError(
                f"a predict request limit of {limit} bytes cannot hold any image"
            )
        # Shrink by the square root of the overshoot, a little more to converge quickly.
        scale = min(0.9, 0.95 * (budget / _b64_size(len(data))) ** 0.5)
        size = (max(1, round(width * scale)), max(1, round(height * scale)))
        image = image.resize(size, Image.Resampling.LANCZOS)
        data = _jpeg(image, 90)
    return data, "image/jpeg"


def to_instance(query: QueryImage, limit: int = REQUEST_LIMIT) -> Instance:
    """A predict instance ``{"content": base64, "mimeType": ...}`` within ``limit``."""
    data, mime = fit_image(query, limit)
    content = base64.b64encode(data).decode("ascii")
    return Instance(body={"content": content, "mimeType": mime}, size=len(content) + _PER_INSTANCE)


def pack(
    instances: Sequence[Instance], *, max_instances: int, limit: int = REQUEST_LIMIT
) -> list[list[int]]:
    """Indices of ``instances`` grouped into requests, in order, each under ``limit``."""
    if max_instances < 1:
        raise ProviderOptionError(f"max_instances must be at least 1, got {max_instances}")
    groups: list[list[int]] = []
    current: list[int] = []
    used = _ENVELOPE
    for index, instance in enumerate(instances):
        if current and (len(current) >= max_instances or used + instance.size > limit):
            groups.append(current)
            current, used = [], _ENVELOPE
        current.append(index)
        used += instance.size
    if current:
        groups.append(current)
    return groups
