"""Rekognition's identifier patterns and parameter ranges, checked before a request leaves.

botocore checks neither the patterns nor the maximum lengths (only minimums), so a bad
id would cost a round trip and come back as a terse ``ValidationException``. The local
face engine checks requests with the same functions. Each raises ``ValueError`` naming
the field and the value.
"""

from __future__ import annotations

import math
import re

MAX_ID_LENGTH = 255
COLLECTION_ID_PATTERN = r"[a-zA-Z0-9_.\-]+"
EXTERNAL_ID_PATTERN = r"[a-zA-Z0-9_.\-:]+"
FACE_ID_PATTERN = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"
MAX_SEARCH_FACES = 4096
MAX_PAGE_SIZE = 4096
MAX_FACE_IDS = 4096  # FaceIds per DeleteFaces request
QUALITY_FILTERS = ("NONE", "AUTO", "LOW", "MEDIUM", "HIGH")

_COLLECTION_ID = re.compile(COLLECTION_ID_PATTERN)
_EXTERNAL_ID = re.compile(EXTERNAL_ID_PATTERN)
_FACE_ID = re.compile(FACE_ID_PATTERN)


def _check_id(value: object, field: str, pattern: re.Pattern[str]) -> str:
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise ValueError(f"{field} {value!r} is invalid: it must match {pattern.pattern}")
    if len(value) > MAX_ID_LENGTH:
        raise ValueError(f"{field} is {len(value)} characters long; at most {MAX_ID_LENGTH}")
    return value


def check_collection_id(value: object) -> str:
    """``value`` if it is a valid CollectionId: 1–255 of ``[a-zA-Z0-9_.-]``."""
    return _check_id(value, "CollectionId", _COLLECTION_ID)


def check_external_id(value: object) -> str:
    """``value`` if it is a valid ExternalImageId: 1–255 of ``[a-zA-Z0-9_.-:]``."""
    return _check_id(value, "ExternalImageId", _EXTERNAL_ID)


def check_face_id(value: object) -> str:
    """``value`` if it is a FaceId (a lower-case UUID)."""
    if not isinstance(value, str) or not _FACE_ID.fullmatch(value):
        raise ValueError(f"FaceId {value!r} is invalid: it must be a lower-case UUID")
    return value


def check_max_faces(value: object) -> int:
    """``value`` if it is a SearchFacesByImage MaxFaces: an integer 1–4096."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_SEARCH_FACES:
        raise ValueError(f"MaxFaces must be an integer from 1 to {MAX_SEARCH_FACES}, got {value!r}")
    return value


def check_threshold(value: object) -> float:
    """``value`` if it is a FaceMatchThreshold: a number 0–100."""
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or not 0.0 <= value <= 100.0
    ):
        raise ValueError(f"FaceMatchThreshold must be a number from 0 to 100, got {value!r}")
    return float(value)


def check_page_size(value: object) -> int:
    """``value`` if it is a MaxResults for a listing: an integer 1–4096."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_PAGE_SIZE:
        raise ValueError(f"MaxResults must be an integer from 1 to {MAX_PAGE_SIZE}, got {value!r}")
    return value


def check_quality_filter(value: object) -> str:
    """``value`` if it is a QualityFilter: NONE, AUTO, LOW, MEDIUM or HIGH."""
    if value not in QUALITY_FILTERS:
        raise ValueError(
            f"QualityFilter must be one of {', '.join(QUALITY_FILTERS)}, got {value!r}"
        )
    return str(value)
