"""Search outcomes to and from the JSON the ledger stores.

``FaceSearch.to_json`` and ``NoFaceFound.to_json`` write them (``outcome`` tells the
two apart); ``outcome_from_json`` reads them back, so a search answered from the
ledger is the same value as the one the service sent.
"""

from __future__ import annotations

from audit.errors import AuditError
from providers.face_collection import (
    BoundingBox,
    FaceMatch,
    FaceSearch,
    NoFaceFound,
    SearchOutcome,
)


class LedgerReplyError(AuditError, ValueError):
    """A stored face-search reply cannot be read back; the message says why."""


def _box(data: object) -> BoundingBox | None:
    if data is None:
        return None
    if not isinstance(data, dict):
        raise LedgerReplyError(f"a bounding box must be an object, got {data!r}")
    return BoundingBox(
        float(data["left"]), float(data["top"]), float(data["width"]), float(data["height"])
    )


def _match(data: dict) -> FaceMatch:
    return FaceMatch(
        face_id=str(data["face_id"]),
        external_id=data.get("external_id"),
        similarity=float(data["similarity"]),
        image_id=data.get("image_id"),
    )


def outcome_from_json(data: dict) -> SearchOutcome:
    """The ``FaceSearch`` or ``NoFaceFound`` that ``to_json`` wrote as ``data``."""
    try:
        kind = data["outcome"]
        if kind == "no_face":
            return NoFaceFound(model=str(data["model"]), message=str(data["message"]))
        if kind != "matches":
            raise LedgerReplyError(f"unknown search outcome {kind!r}")
        confidence = data.get("searched_confidence")
        return FaceSearch(
            model=str(data["model"]),
            matches=tuple(_match(match) for match in data["matches"]),
            max_faces=int(data["max_faces"]),
            threshold=float(data["threshold"]),
            searched_box=_box(data.get("searched_box")),
            searched_confidence=None if confidence is None else float(confidence),
        )
    except (KeyError, TypeError, ValueError) as exc:
        if isinstance(exc, LedgerReplyError):
            raise
        raise LedgerReplyError(f"a stored face-search reply is incomplete: {exc!r}") from None
