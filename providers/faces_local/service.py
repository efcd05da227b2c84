"""The Rekognition face-collection operations of the local engine, on a ``FaceEngine`` and a
``FaceStore``.

Each operation takes the request's JSON object and returns the reply's, or raises
``AwsError``. Replies have the fields botocore's service model names, so boto3 parses
them as it parses Rekognition's. Differences from the real service: images only as
bytes (no S3), no users, no face attributes beyond the box and confidence, and a
collection refuses to be searched or extended by an engine running another face model
than the one it was built with (its descriptors would not be comparable).
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Mapping

import numpy as np

from providers.faces_local import wire
from providers.faces_local.engine import DetectedFace, FaceEngine
from providers.faces_local.quality import quality_reasons
from providers.faces_local.similarity import similarity
from providers.faces_local.store import (
    CollectionTakenError,
    FaceStore,
    NewFace,
    NoSuchCollectionError,
    StoredCollection,
    StoredFace,
)
from providers.rekognition import ids

DEFAULT_PAGE = 1000
DEFAULT_SEARCH_FACES = 80
MAX_INDEXED_PER_IMAGE = 100  # IndexFaces reports at most 100 faces of an image
ACCOUNT = "000000000000"


def _face(face: StoredFace) -> dict:
    return {
        "FaceId": face.face_id,
        "BoundingBox": wire.box(*face.box),
        "ImageId": face.image_id,
        **({"ExternalImageId": face.external_id} if face.external_id is not None else {}),
        "Confidence": face.confidence,
    }


def _relative_box(face: DetectedFace, height: int, width: int) -> tuple[float, float, float, float]:
    return (face.left / width, face.top / height, face.width / width, face.height / height)


def _detail(face: DetectedFace, height: int, width: int) -> dict:
    return {
        "BoundingBox": wire.box(*_relative_box(face, height, width)),
        "Confidence": face.confidence,
    }


def _token_key(collection_id: str) -> str:
    return hashlib.sha256(collection_id.encode()).hexdigest()[:12]


class RekognitionService:
    """The operations, by their ``X-Amz-Target`` names (see ``operations``)."""

    def __init__(
        self,
        engine: FaceEngine,
        store: FaceStore,
        *,
        region: str = "us-east-1",
        max_pixels: int = wire.DEFAULT_MAX_PIXELS,
    ) -> None:
        self.engine = engine
        self.store = store
        self.region = region
        self.max_pixels = max_pixels
        self.operations: Mapping[str, Callable[[dict], dict]] = {
            "CreateCollection": self.create_collection,
            "DescribeCollection": self.describe_collection,
            "ListCollections": self.list_collections,
            "DeleteCollection": self.delete_collection,
            "IndexFaces": self.index_faces,
            "SearchFacesByImage": self.search_faces_by_image,
            "ListFaces": self.list_faces,
            "DeleteFaces": self.delete_faces,
        }

    def handle(self, operation: str, body: dict) -> dict:
        """Run ``operation`` on a request body; ``AwsError`` for a refused request."""
        handler = self.operations.get(operation)
        if handler is None:
            raise wire.AwsError(
                "UnknownOperationException", f"operation {operation!r} is not supported"
            )
        try:
            return handler(body)
        except NoSuchCollectionError as exc:
            raise wire.AwsError("ResourceNotFoundException", str(exc)) from None
        except CollectionTakenError as exc:
            raise wire.AwsError("ResourceAlreadyExistsException", str(exc)) from None

    def _collection(self, collection_id: str, *, same_model: bool) -> StoredCollection:
        collection = self.store.collection(collection_id)
        if same_model and collection.face_model_version != self.engine.version:
            raise wire.AwsError(
                "InvalidParameterException",
                f"collection {collection_id!r} was built with face model "
                f"{collection.face_model_version}; this engine runs {self.engine.version}: "
                "create a new collection",
            )
        return collection

    def _image(self, body: Mapping) -> np.ndarray:
        return wire.decode_image(wire.image_bytes(body), self.max_pixels)

    def create_collection(self, body: dict) -> dict:
        """CreateCollection."""
        collection_id = wire.collection_id(body)
        arn = f"aws:rekognition:{self.region}:{ACCOUNT}:collection/{collection_id}"
        self.store.create_collection(collection_id, arn, self.engine.version)
        return {"StatusCode": 200, "CollectionArn": arn, "FaceModelVersion": self.engine.version}

    def describe_collection(self, body: dict) -> dict:
        """DescribeCollection."""
        collection = self._collection(wire.collection_id(body), same_model=False)
        return {
            "FaceCount": collection.face_count,
            "FaceModelVersion": collection.face_model_version,
            "CollectionARN": collection.arn,
            "CreationTimestamp": collection.created,
            "UserCount": 0,
        }

    def list_collections(self, body: dict) -> dict:
        """ListCollections (paginated by collection id)."""
        limit = wire.optional_int(body, "MaxResults", 0, ids.MAX_PAGE_SIZE) or DEFAULT_PAGE
        token = body.get("NextToken")
        after = None
        if token is not None:
            if not isinstance(token, str) or not token.startswith("after:"):
                raise wire.AwsError("InvalidPaginationTokenException", "invalid NextToken")
            after = token[len("after:") :]
        collections = self.store.list_collections(after, limit + 1)
        reply: dict = {
            "CollectionIds": [c.collection_id for c in collections[:limit]],
            "FaceModelVersions": [c.face_model_version for c in collections[:limit]],
        }
        if len(collections) > limit:
            reply["NextToken"] = f"after:{collections[limit - 1].collection_id}"
        return reply

    def delete_collection(self, body: dict) -> dict:
        """DeleteCollection."""
        self.store.delete_collection(wire.collection_id(body))
        return {"StatusCode": 200}

    def index_faces(self, body: dict) -> dict:
        """IndexFaces: store the best faces of an image, report the others and why."""
        collection_id = wire.collection_id(body)
        external_id = wire.external_id(body)
        max_faces = wire.optional_int(body, "MaxFaces", 1, None) or MAX_INDEXED_PER_IMAGE
        level = wire.quality_filter(body, "AUTO")
        self._collection(collection_id, same_model=True)
        rgb = self._image(body)
        height, width = rgb.shape[:2]
        detected = self.engine.detect(rgb)[:MAX_INDEXED_PER_IMAGE]
        graded = [(face, quality_reasons(face, level)) for face in detected]
        # Low quality is filtered first, then the smallest boxes (``detect`` sorts by size).
        passing = [face for face, reasons in graded if not reasons]
        kept, extra = passing[:max_faces], passing[max_faces:]
        unindexed = [(face, reasons) for face, reasons in graded if reasons]
        unindexed += [(face, ["EXCEEDS_MAX_FACES"]) for face in extra]
        descriptors = self.engine.describe([face.chip for face in kept])
        stored = self.store.add_faces(
            collection_id,
            str(uuid.uuid4()),
            [
                NewFace(external_id, _relative_box(face, height, width), face.confidence, vector)
                for face, vector in zip(kept, descriptors, strict=True)
            ],
        )
        return {
            "FaceRecords": [
                {"Face": _face(row), "FaceDetail": _detail(face, height, width)}
                for row, face in zip(stored, kept, strict=True)
            ],
            "FaceModelVersion": self.engine.version,
            "UnindexedFaces": [
                {"Reasons": reasons, "FaceDetail": _detail(face, height, width)}
                for face, reasons in unindexed
            ],
        }

    def search_faces_by_image(self, body: dict) -> dict:
        """SearchFacesByImage: match the largest face of the image against the collection."""
        collection_id = wire.collection_id(body)
        max_faces = (
            wire.optional_int(body, "MaxFaces", 1, ids.MAX_SEARCH_FACES) or DEFAULT_SEARCH_FACES
        )
        cutoff = wire.threshold(body, 80.0)
        level = wire.quality_filter(body, "NONE")
        self._collection(collection_id, same_model=True)
        rgb = self._image(body)
        height, width = rgb.shape[:2]
        probes = [face for face in self.engine.detect(rgb) if not quality_reasons(face, level)]
        if not probes:
            raise wire.AwsError("InvalidParameterException", wire.NO_FACE_MESSAGE)
        probe = probes[0]
        vector = self.engine.describe([probe.chip])[0]
        gallery = self.store.gallery(collection_id)
        matches: list[dict] = []
        if gallery.faces:
            distances = np.linalg.norm(gallery.descriptors - vector, axis=1)
            scores = similarity(distances)
            order = np.argsort(-scores, kind="stable")  # ties: the earlier enrolled face first
            for i in order[:max_faces]:
                if scores[i] < cutoff:
                    break
                matches.append({"Similarity": float(scores[i]), "Face": _face(gallery.faces[i])})
        return {
            "SearchedFaceBoundingBox": wire.box(*_relative_box(probe, height, width)),
            "SearchedFaceConfidence": probe.confidence,
            "FaceMatches": matches,
            "FaceModelVersion": self.engine.version,
        }

    def list_faces(self, body: dict) -> dict:
        """ListFaces (paginated in the order faces were indexed)."""
        collection_id = wire.collection_id(body)
        limit = wire.optional_int(body, "MaxResults", 0, ids.MAX_PAGE_SIZE) or DEFAULT_PAGE
        collection = self._collection(collection_id, same_model=False)
        after = 0
        token = body.get("NextToken")
        if token is not None:
            key, _, seq = str(token).partition(":")
            if key != _token_key(collection_id) or not seq.isdigit():
                raise wire.AwsError(
                    "InvalidPaginationTokenException", "NextToken is not from this collection"
                )
            after = int(seq)
        faces = self.store.list_faces(collection_id, after, limit + 1)
        reply: dict = {
            "Faces": [_face(face) for face in faces[:limit]],
            "FaceModelVersion": collection.face_model_version,
        }
        if len(faces) > limit:
            reply["NextToken"] = f"{_token_key(collection_id)}:{faces[limit - 1].seq}"
        return reply

    def delete_faces(self, body: dict) -> dict:
        """DeleteFaces; ids not in the collection come back as FACE_NOT_FOUND."""
        collection_id = wire.collection_id(body)
        face_ids = body.get("FaceIds")
        if not isinstance(face_ids, list) or not 1 <= len(face_ids) <= ids.MAX_FACE_IDS:
            raise wire.AwsError(
                "ValidationException", f"FaceIds must be a list of 1 to {ids.MAX_FACE_IDS} ids"
            )
        try:
            checked = [ids.check_face_id(face_id) for face_id in face_ids]
        except ValueError as exc:
            raise wire.validation_error(exc) from None
        deleted = self.store.delete_faces(collection_id, checked)
        gone = set(deleted)
        return {
            "DeletedFaces": deleted,
            "UnsuccessfulFaceDeletions": [
                {"FaceId": face_id, "Reasons": ["FACE_NOT_FOUND"]}
                for face_id in checked
                if face_id not in gone
            ],
        }
