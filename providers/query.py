"""One image as it is sent to a service."""

from __future__ import annotations

import hashlib
import io
from dataclasses import dataclass

import numpy as np
from PIL import Image


@dataclass(frozen=True)
class QueryImage:
    """An encoded image to classify, plus what the auditor knows about it.

    ``data`` is what goes over the wire. ``base`` (the clean auxiliary image's id) and
    ``mark`` (the blended mark's fingerprint, or None for a clean image) are never
    sent; simulators such as the mock use them, real services ignore them.
    """

    data: bytes
    mime_type: str
    base: str | None = None
    mark: str | None = None

    @property
    def digest(self) -> str:
        """SHA-256 of the encoded bytes: the image part of a ledger key."""
        return hashlib.sha256(self.data).hexdigest()

    @classmethod
    def from_array(
        cls,
        pixels: np.ndarray,
        *,
        base: str | None = None,
        mark: str | None = None,
        fmt: str = "PNG",
        quality: int = 95,
    ) -> QueryImage:
        """Encode an RGB uint8 array. PNG (lossless, deterministic) by default."""
        buf = io.BytesIO()
        image = Image.fromarray(pixels, "RGB")
        if fmt.upper() in ("JPEG", "JPG"):
            image.save(buf, "JPEG", quality=quality)
            mime = "image/jpeg"
        else:
            image.save(buf, "PNG", compress_level=1)
            mime = "image/png"
        return cls(data=buf.getvalue(), mime_type=mime, base=base, mark=mark)

    def to_array(self) -> np.ndarray:
        """Decode to an RGB uint8 array."""
        with Image.open(io.BytesIO(self.data)) as image:
            return np.asarray(image.convert("RGB"))
