"""``RekognitionCollection``: one Rekognition face collection behind ``FaceCollection``.

Each method is one or a few boto3 calls; none retries (botocore's retries are off, and
the ledger's ``RetryPolicy`` judges the typed errors raised here). Images go as bytes,
JPEG or PNG within 5 MB (``providers.rekognition.images``). The model identity of a
search is collection id + the reply's ``FaceModelVersion`` + the face count, which a
search reply does not carry: it comes from a DescribeCollection made *before* the
search when the last one is older than ``identity_max_age_s`` or this adapter changed
the collection since, so a billed search is never followed by a call that could fail.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any

from providers.errors import BadImageError, BadReplyError, ProviderError, UnansweredError
from providers.face_collection import (
    CollectionInfo,
    CollectionSummary,
    DeletedFaces,
    Enrollment,
    FacePage,
    FaceSearch,
    IndexedFace,
    InvalidRequestError,
    NoFaceFound,
    NotIndexed,
    SearchOutcome,
    model_identity,
)
from providers.http.deadline import call_deadline, note_deadline
from providers.query import QueryImage
from providers.rekognition import ids, replies
from providers.rekognition.connection import UNREADABLE, RekognitionConnection, public_url
from providers.rekognition.errors import is_no_face, translate
from providers.rekognition.images import wire_bytes

DEFAULT_MAX_FACES = 10
DEFAULT_THRESHOLD = 80.0  # Rekognition's own default FaceMatchThreshold
LIST_PAGE = 1000


class RekognitionCollection:
    """A face collection on Amazon Rekognition, or on any server speaking its protocol.

    ``provider`` is the ledger's name for the service ("rekognition", or "local" for the
    local face engine); ``target`` is ``REGION/COLLECTION`` for AWS and
    ``ENDPOINT-URL/COLLECTION`` (userinfo stripped) for another endpoint. ``max_faces``
    and ``threshold`` are the default search parameters; ``index_quality_filter`` and
    ``search_quality_filter`` are Rekognition's QualityFilter for IndexFaces (default
    AUTO) and SearchFacesByImage (default NONE). Raises ``ValueError`` for a bad id or
    parameter, ``MissingExtraError`` without boto3, ``RegionError`` for a bad region.
    """

    def __init__(
        self,
        collection_id: str,
        *,
        connection: RekognitionConnection | None = None,
        provider: str = "rekognition",
        max_faces: int = DEFAULT_MAX_FACES,
        threshold: float = DEFAULT_THRESHOLD,
        index_quality_filter: str = "AUTO",
        search_quality_filter: str = "NONE",
        max_concurrency: int = 4,
        identity_max_age_s: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.collection_id = ids.check_collection_id(collection_id)
        self._max_faces = ids.check_max_faces(max_faces)
        self._threshold = ids.check_threshold(threshold)
        self._index_filter = ids.check_quality_filter(index_quality_filter)
        self._search_filter = ids.check_quality_filter(search_quality_filter)
        if max_concurrency < 1:
            raise ValueError(f"max_concurrency must be at least 1, got {max_concurrency}")
        if identity_max_age_s < 0:
            raise ValueError(f"identity_max_age_s must be >= 0, got {identity_max_age_s}")
        self.provider = provider
        self.max_concurrency = max_concurrency
        self._identity_max_age_s = identity_max_age_s
        self._clock = clock
        self._connection = connection or RekognitionConnection()
        self._client: Any = self._connection.client(
            provider=provider, operation=f"{provider} connect"
        )
        where = (
            public_url(self._connection.endpoint_url)
            if self._connection.endpoint_url
            else self._client.meta.region_name
        )
        self.target = f"{where}/{self.collection_id}"
        self._lock = threading.Lock()
        self._info: CollectionInfo | None = None
        self._info_at = 0.0

    @property
    def parameters(self) -> Mapping[str, object]:
        """Default search parameters: they and the model identity key a search."""
        return {
            "max_faces": self._max_faces,
            "threshold": self._threshold,
            "quality_filter": self._search_filter,
        }

    def _operation(self, name: str) -> str:
        return f"{self.provider} {name} {self.target}"

    def _bad(self, name: str) -> Callable[[str], BadReplyError]:
        operation = self._operation(name)
        return lambda problem: BadReplyError(problem, provider=self.provider, operation=operation)

    def _invalid(self, name: str, exc: ValueError) -> InvalidRequestError:
        return InvalidRequestError(
            str(exc), provider=self.provider, operation=self._operation(name)
        )

    def _call(self, name: str, method: str, **params: object) -> Any:
        """One boto3 call within the connection's overall deadline, its failures typed."""
        operation = self._operation(name)
        seconds = self._connection.call_deadline_s
        with call_deadline(seconds) as deadline:
            try:
                reply = getattr(self._client, method)(**params)
            except Exception as exc:  # every botocore failure, typed for the retry policy
                translated = translate(exc, provider=self.provider, operation=operation)
                if translated is None:
                    raise
                raise note_deadline(translated, deadline, seconds) from exc
        if isinstance(reply, dict) and reply.pop(UNREADABLE, False):
            # Answered (and billed) with a body garbled or cut short on the way: no reply
            # to use; asked again, the service sends a whole one.
            raise UnansweredError(
                "HTTP 200 with a body that is not JSON", provider=self.provider, operation=operation
            )
        return reply

    def _remember(self, info: CollectionInfo | None) -> None:
        with self._lock:
            self._info = info
            self._info_at = self._clock()

    def create(self) -> CollectionInfo:
        """Create the collection; ``CollectionExistsError`` when it exists."""
        reply = self._call("CreateCollection", "create_collection", CollectionId=self.collection_id)
        info = replies.parse_creation(reply, self.collection_id, self._bad("CreateCollection"))
        self._remember(info)
        return info

    def describe(self) -> CollectionInfo:
        """The collection's state now; ``CollectionNotFoundError`` when it does not exist."""
        reply = self._call(
            "DescribeCollection", "describe_collection", CollectionId=self.collection_id
        )
        info = replies.parse_description(reply, self.collection_id, self._bad("DescribeCollection"))
        self._remember(info)
        return info

    def _current_info(self) -> CollectionInfo:
        with self._lock:
            info, age = self._info, self._clock() - self._info_at
        if info is None or age > self._identity_max_age_s:
            info = self.describe()
        return info

    def model_identity(self) -> str:
        """The identity of the model that answers searches now (describes when stale)."""
        return self._current_info().model

    def list_collections(self) -> list[CollectionSummary]:
        """Every collection of the account in this region or endpoint (all pages)."""
        found: list[CollectionSummary] = []
        token: str | None = None
        while True:
            params: dict[str, object] = {"MaxResults": LIST_PAGE}
            if token:
                params["NextToken"] = token
            reply = self._call("ListCollections", "list_collections", **params)
            pairs, token = replies.parse_collection_page(reply, self._bad("ListCollections"))
            found.extend(CollectionSummary(cid, version) for cid, version in pairs)
            if not token:
                return found

    def delete(self) -> None:
        """Delete the collection and its faces; ``CollectionNotFoundError`` when absent."""
        self._remember(None)
        self._call("DeleteCollection", "delete_collection", CollectionId=self.collection_id)

    def enroll(self, images: Sequence[QueryImage], external_ids: Sequence[str]) -> Enrollment:
        """Index the largest face of each image (IndexFaces, MaxFaces=1), one call each.

        Every external id is checked first (``InvalidRequestError``, nothing sent). An
        image that cannot be sent or that the service refuses is reported in
        ``not_indexed`` (reason ``BAD_IMAGE``), an image without a face with reason
        ``NO_FACE``. Any other error raises when it hits the first call; after that it
        stops the enrollment, and the result lists the unsent images as ``pending``.
        """
        name = "IndexFaces"
        if len(images) != len(external_ids):
            raise self._invalid(
                name, ValueError(f"{len(images)} images but {len(external_ids)} external ids")
            )
        try:
            checked = [ids.check_external_id(external_id) for external_id in external_ids]
        except ValueError as exc:
            raise self._invalid(name, exc) from None
        indexed: list[IndexedFace] = []
        skipped: list[NotIndexed] = []
        version: str | None = None
        calls = 0
        for index, (image, external_id) in enumerate(zip(images, checked, strict=True)):
            try:
                data = wire_bytes(image)
            except ValueError as exc:
                skipped.append(NotIndexed(index, external_id, ("BAD_IMAGE",), message=str(exc)))
                continue
            try:
                calls += 1
                reply = self._call(
                    name,
                    "index_faces",
                    CollectionId=self.collection_id,
                    Image={"Bytes": data},
                    ExternalImageId=external_id,
                    MaxFaces=1,
                    QualityFilter=self._index_filter,
                    DetectionAttributes=["DEFAULT"],
                )
            except BadImageError as exc:
                skipped.append(NotIndexed(index, external_id, ("BAD_IMAGE",), message=str(exc)))
                continue
            except ProviderError as exc:
                if is_no_face(exc.__cause__ or exc):
                    skipped.append(NotIndexed(index, external_id, ("NO_FACE",), message=str(exc)))
                    continue
                if calls == 1:
                    raise
                if indexed:
                    self._remember(None)
                return Enrollment(
                    tuple(indexed),
                    tuple(skipped),
                    version,
                    pending=tuple(range(index, len(images))),
                    error=exc,
                )
            bad = self._bad(name)
            faces, unindexed = replies.parse_indexing(
                reply, index=index, external_id=external_id, bad=bad
            )
            version = replies.face_model_version(reply, f"{name} reply", bad)
            indexed.extend(faces)
            skipped.extend(unindexed)
        if indexed:
            self._remember(None)  # the face count changed
        return Enrollment(tuple(indexed), tuple(skipped), version)

    def search(
        self, image: QueryImage, *, max_faces: int | None = None, threshold: float | None = None
    ) -> SearchOutcome:
        """Search with the largest face in ``image`` (SearchFacesByImage).

        ``max_faces`` (1–4096) and ``threshold`` (0–100) default to the adapter's. A
        probe without a face is a ``NoFaceFound`` reply; an image that cannot be sent
        raises ``BadImageError``.
        """
        name = "SearchFacesByImage"
        try:
            limit = ids.check_max_faces(self._max_faces if max_faces is None else max_faces)
            cutoff = ids.check_threshold(self._threshold if threshold is None else threshold)
        except ValueError as exc:
            raise self._invalid(name, exc) from None
        try:
            data = wire_bytes(image)
        except ValueError as exc:
            raise BadImageError(
                str(exc), provider=self.provider, operation=self._operation(name)
            ) from None
        info = self._current_info()  # before the billed call: see the module docstring
        try:
            reply = self._call(
                name,
                "search_faces_by_image",
                CollectionId=self.collection_id,
                Image={"Bytes": data},
                MaxFaces=limit,
                FaceMatchThreshold=cutoff,
                QualityFilter=self._search_filter,
            )
        except ProviderError as exc:
            if is_no_face(exc.__cause__ or exc):
                return NoFaceFound(model=info.model, message=str(exc))
            raise
        bad = self._bad(name)
        version = replies.face_model_version(reply, f"{name} reply", bad)
        matches, box, confidence = replies.parse_matches(reply, bad)
        if version != info.face_model_version:
            self._remember(None)  # the collection changed under us: describe next time
        return FaceSearch(
            model=model_identity(self.collection_id, version, info.face_count),
            matches=tuple(matches[:limit]),
            max_faces=limit,
            threshold=cutoff,
            searched_box=box,
            searched_confidence=confidence,
        )

    def list_faces(self, *, page_size: int = LIST_PAGE, next_token: str | None = None) -> FacePage:
        """One page of faces (ListFaces); pass the page's ``next_token`` for the next."""
        name = "ListFaces"
        try:
            params: dict[str, object] = {
                "CollectionId": self.collection_id,
                "MaxResults": ids.check_page_size(page_size),
            }
        except ValueError as exc:
            raise self._invalid(name, exc) from None
        if next_token:
            params["NextToken"] = next_token
        reply = self._call(name, "list_faces", **params)
        return replies.parse_face_page(reply, self._bad(name))

    def iter_faces(self, *, page_size: int = LIST_PAGE) -> Iterator[IndexedFace]:
        """Every face, page after page."""
        token: str | None = None
        while True:
            page = self.list_faces(page_size=page_size, next_token=token)
            yield from page.faces
            if not page.next_token:
                return
            token = page.next_token

    def delete_faces(self, face_ids: Sequence[str]) -> DeletedFaces:
        """Delete faces by id (DeleteFaces, up to 4096 ids a call)."""
        name = "DeleteFaces"
        try:
            checked = [ids.check_face_id(face_id) for face_id in face_ids]
        except ValueError as exc:
            raise self._invalid(name, exc) from None
        deleted: list[str] = []
        not_deleted: dict[str, tuple[str, ...]] = {}
        for start in range(0, len(checked), ids.MAX_FACE_IDS):
            chunk = checked[start : start + ids.MAX_FACE_IDS]
            reply = self._call(name, "delete_faces", CollectionId=self.collection_id, FaceIds=chunk)
            self._remember(None)
            result = replies.parse_deletion(reply, self._bad(name))
            deleted.extend(result.deleted)
            not_deleted.update(result.not_deleted)
        return DeletedFaces(tuple(deleted), not_deleted)
