"""The ``FaceCollection`` protocol every face-search adapter implements, and its records.

A face collection enrolls faces (one face per image, with the caller's external id)
and searches them with a probe image, answering ranked matches with a similarity in
0–100. Every search reply and every description carries the identity of the model
that answered: collection id, face model version and face count, e.g.
``"C@face-model-6.0#faces=250"``. A query ledger keys on it, so replies of two
different states of a collection are never mixed.

"No face in the probe" is a reply (``NoFaceFound``), not an error: an audit records it
as that probe's outcome. Failures raise ``providers.errors`` types; the face-specific
ones are below.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, runtime_checkable

from providers.errors import PermanentError
from providers.query import QueryImage

FACE_COUNT_SEP = "#faces="


def model_identity(collection_id: str, face_model_version: str, face_count: int) -> str:
    """The identity of a collection's model: ``C@face-model-V#faces=N``."""
    return f"{collection_id}@face-model-{face_model_version}{FACE_COUNT_SEP}{face_count}"


def without_face_count(identity: str) -> str:
    """``C@face-model-V``: a collection's identity with its face count left out (what
    stays the same while others enroll or delete faces)."""
    return identity.split(FACE_COUNT_SEP, 1)[0]


class CollectionNotFoundError(PermanentError):
    """The collection does not exist (or this account cannot see it)."""


class CollectionExistsError(PermanentError):
    """A collection of that id exists already."""


class AccessDeniedError(PermanentError):
    """Credentials are missing, wrong, expired, or not allowed to do this."""


class InvalidRequestError(PermanentError):
    """A request the service refuses as malformed: a bad id, a parameter out of range."""


@dataclass(frozen=True)
class BoundingBox:
    """Where a face is, as fractions of the image's width and height (Rekognition's way)."""

    left: float
    top: float
    width: float
    height: float

    def to_json(self) -> dict:
        """A JSON-ready dict."""
        return {"left": self.left, "top": self.top, "width": self.width, "height": self.height}


@dataclass(frozen=True)
class CollectionInfo:
    """What a collection is: its id, ARN, face model version, face count, creation time."""

    collection_id: str
    face_model_version: str
    face_count: int
    arn: str | None = None
    created: datetime | None = None

    @property
    def model(self) -> str:
        """The model identity (collection + face model version + face count)."""
        return model_identity(self.collection_id, self.face_model_version, self.face_count)

    def to_json(self) -> dict:
        """A JSON-ready dict."""
        return {
            "collection_id": self.collection_id,
            "face_model_version": self.face_model_version,
            "face_count": self.face_count,
            "arn": self.arn,
            "created": self.created.isoformat() if self.created else None,
            "model": self.model,
        }


@dataclass(frozen=True)
class CollectionSummary:
    """One entry of a collection listing."""

    collection_id: str
    face_model_version: str | None


@dataclass(frozen=True)
class IndexedFace:
    """A face stored in a collection."""

    face_id: str
    external_id: str | None
    box: BoundingBox
    image_id: str | None = None
    confidence: float | None = None  # detection confidence, 0–100

    def to_json(self) -> dict:
        """A JSON-ready dict."""
        return {
            "face_id": self.face_id,
            "external_id": self.external_id,
            "box": self.box.to_json(),
            "image_id": self.image_id,
            "confidence": self.confidence,
        }


@dataclass(frozen=True)
class NotIndexed:
    """An enrolled image, or a face in it, that was not indexed, and why.

    ``index`` is the image's position in the ``enroll`` call. ``reasons`` are the
    service's (``EXCEEDS_MAX_FACES``, ``LOW_CONFIDENCE``, ``SMALL_BOUNDING_BOX``, ...) or
    the adapter's: ``NO_FACE`` (no face found at all) and ``BAD_IMAGE`` (the image
    cannot be sent or was refused; ``message`` says why).
    """

    index: int
    external_id: str
    reasons: tuple[str, ...]
    box: BoundingBox | None = None
    message: str | None = None

    def to_json(self) -> dict:
        """A JSON-ready dict."""
        return {
            "index": self.index,
            "external_id": self.external_id,
            "reasons": list(self.reasons),
            "box": self.box.to_json() if self.box else None,
            "message": self.message,
        }


@dataclass(frozen=True)
class Enrollment:
    """What one ``enroll`` call did.

    ``indexed`` and ``not_indexed`` cover the images that were sent. When an error
    that is not about one image (throttling, a lost connection...) stopped the call
    after some images were indexed, the images not yet sent are listed in ``pending``
    (positions in the call) and ``error`` is that error: enroll them again, and only
    them, so no image is billed or stored twice.
    """

    indexed: tuple[IndexedFace, ...]
    not_indexed: tuple[NotIndexed, ...]
    face_model_version: str | None
    pending: tuple[int, ...] = ()
    error: Exception | None = None

    def to_json(self) -> dict:
        """A JSON-ready dict."""
        return {
            "indexed": [face.to_json() for face in self.indexed],
            "not_indexed": [face.to_json() for face in self.not_indexed],
            "face_model_version": self.face_model_version,
            "pending": list(self.pending),
            "error": str(self.error) if self.error else None,
        }


@dataclass(frozen=True)
class FaceMatch:
    """One enrolled face matching a probe; ``similarity`` is 0–100."""

    face_id: str
    external_id: str | None
    similarity: float
    image_id: str | None = None

    def to_json(self) -> dict:
        """A JSON-ready dict."""
        return {
            "face_id": self.face_id,
            "external_id": self.external_id,
            "similarity": self.similarity,
            "image_id": self.image_id,
        }


@dataclass(frozen=True)
class FaceSearch:
    """A search reply: matches ranked by similarity (highest first).

    ``model`` is the identity of the model that answered; ``max_faces`` and
    ``threshold`` the parameters the search used.
    """

    model: str
    matches: tuple[FaceMatch, ...]
    max_faces: int
    threshold: float
    searched_box: BoundingBox | None = None
    searched_confidence: float | None = None

    def rank_of(self, external_id: str) -> int | None:
        """1-based rank of the first match with ``external_id``; None when absent."""
        for rank, match in enumerate(self.matches, start=1):
            if match.external_id == external_id:
                return rank
        return None

    def to_json(self) -> dict:
        """A JSON-ready dict (``outcome`` tells it from ``NoFaceFound``)."""
        return {
            "outcome": "matches",
            "model": self.model,
            "matches": [match.to_json() for match in self.matches],
            "max_faces": self.max_faces,
            "threshold": self.threshold,
            "searched_box": self.searched_box.to_json() if self.searched_box else None,
            "searched_confidence": self.searched_confidence,
        }


@dataclass(frozen=True)
class NoFaceFound:
    """A search whose probe image shows no face the service could find."""

    model: str
    message: str

    def to_json(self) -> dict:
        """A JSON-ready dict (``outcome`` tells it from ``FaceSearch``)."""
        return {"outcome": "no_face", "model": self.model, "message": self.message}


SearchOutcome = FaceSearch | NoFaceFound


@dataclass(frozen=True)
class FacePage:
    """One page of a face listing; ``next_token`` None on the last page."""

    faces: tuple[IndexedFace, ...]
    next_token: str | None
    face_model_version: str | None


@dataclass(frozen=True)
class DeletedFaces:
    """What ``delete_faces`` did: the ids deleted, and the others with their reasons."""

    deleted: tuple[str, ...]
    not_deleted: Mapping[str, tuple[str, ...]]


@runtime_checkable
class FaceCollection(Protocol):
    """One face collection of one service.

    ``provider`` and ``target`` name the service and the collection (e.g.
    ``"rekognition"`` and ``"us-east-1/C"``); with ``parameters`` and the model identity
    they key a search in the ledger. ``max_concurrency`` is how many calls may be in
    flight at once. Methods raise ``providers.errors`` types on failure (including the
    face-specific ones in this module); none of them retries.
    """

    provider: str
    collection_id: str
    max_concurrency: int

    @property
    def target(self) -> str:
        """The region or endpoint and the collection: with ``provider``, its ledger identity."""
        ...

    @property
    def parameters(self) -> Mapping[str, object]:
        """Default search parameters that change a reply (max_faces, threshold, ...)."""
        ...

    def create(self) -> CollectionInfo:
        """Create the collection; ``CollectionExistsError`` when it exists."""
        ...

    def describe(self) -> CollectionInfo:
        """The collection's current state; ``CollectionNotFoundError`` when absent."""
        ...

    def model_identity(self) -> str:
        """The identity of the model searches are answered by now."""
        ...

    def list_collections(self) -> list[CollectionSummary]:
        """Every collection the account holds (all pages)."""
        ...

    def delete(self) -> None:
        """Delete the collection and every face in it."""
        ...

    def enroll(self, images: Sequence[QueryImage], external_ids: Sequence[str]) -> Enrollment:
        """Index the largest face of each image under its external id."""
        ...

    def search(
        self, image: QueryImage, *, max_faces: int | None = None, threshold: float | None = None
    ) -> SearchOutcome:
        """Search the collection with the largest face in ``image``."""
        ...

    def list_faces(self, *, page_size: int = 1000, next_token: str | None = None) -> FacePage:
        """One page of the collection's faces."""
        ...

    def iter_faces(self, *, page_size: int = 1000) -> Iterator[IndexedFace]:
        """Every face of the collection, page after page."""
        ...

    def delete_faces(self, face_ids: Sequence[str]) -> DeletedFaces:
        """Delete faces by id."""
        ...
