"""Rekognition replies (boto3's parsed dicts) as ``providers.face_collection`` records.

Every field the audit relies on is checked: a reply that lacks it, or holds a value of
the wrong type or out of range, raises ``BadReplyError`` naming the field. botocore
turns a 200 reply whose body is not JSON into ``{"message": <body>}`` instead of
raising, so a garbled reply is caught here, by its missing fields.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from datetime import datetime

from providers.errors import BadReplyError
from providers.face_collection import (
    BoundingBox,
    CollectionInfo,
    DeletedFaces,
    FaceMatch,
    FacePage,
    IndexedFace,
    NotIndexed,
)

Bad = Callable[[str], BadReplyError]


def _mapping(obj: object, where: str, bad: Bad) -> Mapping:
    if not isinstance(obj, Mapping):
        raise bad(f"{where} is not an object: {obj!r:.200}")
    return obj


def _field(obj: object, key: str, where: str, bad: Bad) -> object:
    obj = _mapping(obj, where, bad)
    if key not in obj:
        raise bad(f"{where} lacks {key}: {obj!r:.200}")
    return obj[key]


def _string(obj: object, key: str, where: str, bad: Bad) -> str:
    value = _field(obj, key, where, bad)
    if not isinstance(value, str) or not value:
        raise bad(f"{where}.{key} is not a non-empty string: {value!r:.100}")
    return value


def _optional_string(obj: Mapping, key: str, where: str, bad: Bad) -> str | None:
    value = obj.get(key)
    if value is not None and not isinstance(value, str):
        raise bad(f"{where}.{key} is not a string: {value!r:.100}")
    return value


def _number(value: object, where: str, bad: Bad, low: float, high: float) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise bad(f"{where} is not a finite number: {value!r:.100}")
    if not low <= value <= high:
        raise bad(f"{where} is {value}, outside {low}..{high}")
    return float(value)


def _list(obj: object, key: str, where: str, bad: Bad) -> list:
    value = _field(obj, key, where, bad)
    if not isinstance(value, list):
        raise bad(f"{where}.{key} is not a list: {value!r:.100}")
    return value


def parse_box(obj: object, where: str, bad: Bad) -> BoundingBox:
    """A ``BoundingBox`` (fractions of the image; a box may reach past its edges)."""
    parts = {
        key: _number(_field(obj, key, where, bad), f"{where}.{key}", bad, -1.0, 2.0)
        for key in ("Left", "Top", "Width", "Height")
    }
    return BoundingBox(parts["Left"], parts["Top"], parts["Width"], parts["Height"])


def parse_face(obj: object, where: str, bad: Bad) -> IndexedFace:
    """A ``Face`` structure."""
    obj = _mapping(obj, where, bad)
    confidence = obj.get("Confidence")
    return IndexedFace(
        face_id=_string(obj, "FaceId", where, bad),
        external_id=_optional_string(obj, "ExternalImageId", where, bad),
        box=parse_box(_field(obj, "BoundingBox", where, bad), f"{where}.BoundingBox", bad),
        image_id=_optional_string(obj, "ImageId", where, bad),
        confidence=None
        if confidence is None
        else _number(confidence, f"{where}.Confidence", bad, 0.0, 100.0),
    )


def face_model_version(reply: object, where: str, bad: Bad) -> str:
    """The reply's ``FaceModelVersion`` (required)."""
    return _string(reply, "FaceModelVersion", where, bad)


def parse_description(reply: object, collection_id: str, bad: Bad) -> CollectionInfo:
    """A DescribeCollection reply."""
    where = "DescribeCollection reply"
    reply = _mapping(reply, where, bad)
    count = _field(reply, "FaceCount", where, bad)
    if isinstance(count, bool) or not isinstance(count, int) or count < 0:
        raise bad(f"{where}.FaceCount is not a count: {count!r:.100}")
    created = reply.get("CreationTimestamp")
    return CollectionInfo(
        collection_id=collection_id,
        face_model_version=face_model_version(reply, where, bad),
        face_count=count,
        arn=_optional_string(reply, "CollectionARN", where, bad),
        created=created if isinstance(created, datetime) else None,
    )


def parse_creation(reply: object, collection_id: str, bad: Bad) -> CollectionInfo:
    """A CreateCollection reply (a new collection holds no face)."""
    where = "CreateCollection reply"
    reply = _mapping(reply, where, bad)
    version = face_model_version(reply, where, bad)
    return CollectionInfo(
        collection_id=collection_id,
        face_model_version=version,
        face_count=0,
        arn=_optional_string(reply, "CollectionArn", where, bad),
    )


def parse_indexing(
    reply: object, *, index: int, external_id: str, bad: Bad
) -> tuple[list[IndexedFace], list[NotIndexed]]:
    """An IndexFaces reply for the image at ``index``: faces indexed and not indexed.

    An image in which the service found no face at all comes back as one
    ``NotIndexed`` with reason ``NO_FACE``.
    """
    where = "IndexFaces reply"
    reply = _mapping(reply, where, bad)
    records = _list(reply, "FaceRecords", where, bad)
    indexed = [
        parse_face(_field(record, "Face", f"{where}.FaceRecords[{i}]", bad), f"Face[{i}]", bad)
        for i, record in enumerate(records)
    ]
    unindexed = reply.get("UnindexedFaces") or []
    if not isinstance(unindexed, list):
        raise bad(f"{where}.UnindexedFaces is not a list: {unindexed!r:.100}")
    skipped = []
    for i, face in enumerate(unindexed):
        here = f"{where}.UnindexedFaces[{i}]"
        reasons = _list(face, "Reasons", here, bad)
        if not all(isinstance(reason, str) for reason in reasons):
            raise bad(f"{here}.Reasons holds a non-string: {reasons!r:.100}")
        detail = _mapping(face, here, bad).get("FaceDetail") or {}
        box = detail.get("BoundingBox") if isinstance(detail, Mapping) else None
        skipped.append(
            NotIndexed(
                index=index,
                external_id=external_id,
                reasons=tuple(reasons),
                box=None if box is None else parse_box(box, f"{here}.BoundingBox", bad),
            )
        )
    if not indexed and not skipped:
        skipped.append(NotIndexed(index=index, external_id=external_id, reasons=("NO_FACE",)))
    return indexed, skipped


def parse_matches(
    reply: object, bad: Bad
) -> tuple[list[FaceMatch], BoundingBox | None, float | None]:
    """A SearchFacesByImage reply: matches (highest similarity first), probe box, confidence."""
    where = "SearchFacesByImage reply"
    reply = _mapping(reply, where, bad)
    matches = []
    for i, item in enumerate(_list(reply, "FaceMatches", where, bad)):
        here = f"{where}.FaceMatches[{i}]"
        similarity = _number(
            _field(item, "Similarity", here, bad), f"{here}.Similarity", bad, 0, 100
        )
        face = parse_face(_field(item, "Face", here, bad), f"{here}.Face", bad)
        matches.append(FaceMatch(face.face_id, face.external_id, similarity, face.image_id))
    matches.sort(key=lambda match: -match.similarity)  # stable: the service's order on ties
    box = reply.get("SearchedFaceBoundingBox")
    confidence = reply.get("SearchedFaceConfidence")
    return (
        matches,
        None if box is None else parse_box(box, f"{where}.SearchedFaceBoundingBox", bad),
        None if confidence is None else _number(confidence, "SearchedFaceConfidence", bad, 0, 100),
    )


def parse_face_page(reply: object, bad: Bad) -> FacePage:
    """A ListFaces reply."""
    where = "ListFaces reply"
    reply = _mapping(reply, where, bad)
    faces = [
        parse_face(face, f"{where}.Faces[{i}]", bad)
        for i, face in enumerate(_list(reply, "Faces", where, bad))
    ]
    return FacePage(
        faces=tuple(faces),
        next_token=_optional_string(reply, "NextToken", where, bad) or None,
        face_model_version=_optional_string(reply, "FaceModelVersion", where, bad),
    )


def parse_deletion(reply: object, bad: Bad) -> DeletedFaces:
    """A DeleteFaces reply."""
    where = "DeleteFaces reply"
    reply = _mapping(reply, where, bad)
    deleted = _list(reply, "DeletedFaces", where, bad)
    if not all(isinstance(face_id, str) for face_id in deleted):
        raise bad(f"{where}.DeletedFaces holds a non-string: {deleted!r:.100}")
    failures = reply.get("UnsuccessfulFaceDeletions") or []
    if not isinstance(failures, list):
        raise bad(f"{where}.UnsuccessfulFaceDeletions is not a list")
    not_deleted: dict[str, tuple[str, ...]] = {}
    for i, failure in enumerate(failures):
        here = f"{where}.UnsuccessfulFaceDeletions[{i}]"
        face_id = _string(failure, "FaceId", here, bad)
        reasons = _mapping(failure, here, bad).get("Reasons") or []
        not_deleted[face_id] = tuple(str(reason) for reason in reasons)
    return DeletedFaces(deleted=tuple(deleted), not_deleted=not_deleted)


def parse_collection_page(
    reply: object, bad: Bad
) -> tuple[list[tuple[str, str | None]], str | None]:
    """A ListCollections reply: (collection id, face model version) pairs and NextToken."""
    where = "ListCollections reply"
    reply = _mapping(reply, where, bad)
    ids = _list(reply, "CollectionIds", where, bad)
    versions = reply.get("FaceModelVersions") or [None] * len(ids)
    if not isinstance(versions, list) or len(versions) != len(ids):
        raise bad(f"{where}: {len(ids)} CollectionIds but FaceModelVersions {versions!r:.100}")
    if not all(isinstance(value, str) for value in ids):
        raise bad(f"{where}.CollectionIds holds a non-string: {ids!r:.100}")
    token = _optional_string(reply, "NextToken", where, bad) or None
    return list(zip(ids, versions, strict=True)), token
