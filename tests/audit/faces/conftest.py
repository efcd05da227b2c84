"""Fixtures for face audits: LFW faces, the local engine on a free port, a person's photos.

Faces come from scikit-image's ``lfw_subset`` (grey 25×25 crops upscaled to 100×100
RGB), never from ``../shared/data``. dlib loads once per session; the engine serves
one data folder for the session and each test builds the collections it needs under
its own ids. ``FakeCollection`` is an in-memory ``FaceCollection`` for tests that need
no face model: it answers a search with the faces whose stored bytes are identical
(similarity 99.9), else a fixed stranger match.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from skimage.data import lfw_subset

from audit.faces.enroll import EnrollItem
from marks.kinds import make_mark
from marks.mark import Mark
from marks.marking import mark_folder
from marks.store import MarkStore
from providers.errors import BadReplyError, RateLimitedError, UnansweredError
from providers.face_collection import (
    BoundingBox,
    CollectionInfo,
    Enrollment,
    FaceMatch,
    FacePage,
    FaceSearch,
    IndexedFace,
    NoFaceFound,
    NotIndexed,
    SearchOutcome,
    model_identity,
)
from providers.faces_local.engine import FaceEngine
from providers.faces_local.server import FaceServer, serve_in_background
from providers.query import QueryImage
from providers.rekognition.collection import RekognitionCollection
from providers.rekognition.connection import RekognitionConnection

SIDE = 100
ALPHA = 0.1  # found by the detector on these small, blurry faces (0.2 hides many)


def face_pixels(index: int) -> np.ndarray:
    """LFW subset face ``index`` as RGB uint8 (100, 100, 3)."""
    grey = np.rint(lfw_subset()[index] * 255).astype(np.uint8)
    image = Image.fromarray(grey).resize((SIDE, SIDE), Image.Resampling.BICUBIC)
    return np.asarray(image.convert("RGB"))


def save_png(path: Path, pixels: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, "PNG")
    return path


def png_item(external_id: str, path: Path) -> EnrollItem:
    """An enrollment item reading ``path`` when sent."""
    return EnrollItem(external_id, lambda: QueryImage(path.read_bytes(), "image/png"))


@pytest.fixture(scope="session")
def engine() -> FaceEngine:
    """dlib's models, loaded once."""
    return FaceEngine(workers=2)


@pytest.fixture(scope="session")
def usable_faces(engine: FaceEngine) -> list[int]:
    """LFW subset faces in which dlib finds one face, also when marked at ``ALPHA``."""
    mark = make_mark("probe-check", "procedural", seed=5)
    from marks.blend import blend

    found = [
        i
        for i in range(60)
        if len(engine.detect(face_pixels(i))) == 1
        and len(engine.detect(blend(face_pixels(i), mark, ALPHA))) == 1
    ]
    assert len(found) >= 20, f"only {len(found)} usable LFW faces"
    return found


@pytest.fixture(scope="session")
def server(engine: FaceEngine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaceServer]:
    """The local face engine on a free loopback port for the whole session."""
    running = serve_in_background(tmp_path_factory.mktemp("face-engine"), engine=engine)
    yield running
    running.stop()


def adapter(server: FaceServer, collection_id: str, **options: object) -> RekognitionCollection:
    """An adapter on the engine for a collection id (as the ``local`` provider builds it)."""
    connection = RekognitionConnection(endpoint_url=server.base_url, dummy_credentials=True)
    return RekognitionCollection(collection_id, connection=connection, provider="local", **options)


@pytest.fixture
def connect(server: FaceServer) -> Callable[..., RekognitionCollection]:
    """``adapter`` on the session's engine."""
    return lambda collection_id, **options: adapter(server, collection_id, **options)


class Person:
    """A person's photos (``originals``), a mark, and the copies they posted."""

    def __init__(self, root: Path, faces: Sequence[int], *, seed: int = 3) -> None:
        self.originals = root / "my-photos"
        for i, index in enumerate(faces):
            save_png(self.originals / f"p{i:02d}.png", face_pixels(index))
        self.store = MarkStore.open(root / "store")
        self.mark: Mark = make_mark("mine", "procedural", seed=seed)
        self.store.add(self.mark, force=True)
        self.posted = root / "posted"
        self.marking = mark_folder(
            self.originals,
            self.posted,
            self.mark,
            alpha=ALPHA,
            fraction=0.5,
            seed=seed,
            store=self.store,
        )

    def posted_files(self) -> list[Path]:
        return sorted(self.posted.glob("*.png"))

    def original_files(self) -> list[Path]:
        return sorted(self.originals.glob("*.png"))


@pytest.fixture(scope="module")
def person(tmp_path_factory: pytest.TempPathFactory, usable_faces: list[int]) -> Person:
    """Six photos of "you" (half posted marked at ``ALPHA``), in a store of your own."""
    return Person(tmp_path_factory.mktemp("you"), usable_faces[:6])


@pytest.fixture(scope="module")
def strangers(tmp_path_factory: pytest.TempPathFactory, usable_faces: list[int]) -> list[Path]:
    """Ten photos of other people."""
    folder = tmp_path_factory.mktemp("strangers")
    return [
        save_png(folder / f"s{i:02d}.png", face_pixels(index))
        for i, index in enumerate(usable_faces[6:16])
    ]


@pytest.fixture(scope="module")
def build(
    server: FaceServer, tmp_path_factory: pytest.TempPathFactory
) -> Callable[..., RekognitionCollection]:
    """A new collection on the engine enrolling the given PNG files (fresh id each call)."""
    from audit.faces.enroll import Enroller
    from audit.spending.ledger import Ledger

    def make(files: Sequence[Path], **options: object) -> RekognitionCollection:
        collection = adapter(server, f"c-{uuid.uuid4().hex[:10]}", **options)
        collection.create()
        ledger = Ledger.in_workspace(tmp_path_factory.mktemp("service"))
        try:
            enroller = Enroller(collection, ledger)
            items = [png_item(f"f{i}", path) for i, path in enumerate(files)]
            enroller.run(enroller.plan(items))
        finally:
            ledger.close()
        return collection

    return make


@pytest.fixture(scope="module")
def copies(build, strangers: list[Path], person: Person) -> RekognitionCollection:  # type: ignore[no-untyped-def]
    """A collection that enrolled the strangers and every copy you posted."""
    return build([*strangers, *person.posted_files()])


class FakeCollection:
    """An in-memory face collection: a search matches stored images with identical bytes.

    ``fail_next`` transient failures are raised before the next searches are answered
    (each failure counted in ``searches``); ``lose_next`` searches are sent and their
    replies lost (``UnansweredError``); ``garble_next`` are answered unusably
    (``BadReplyError``). Images whose bytes start with
    ``b"noface"`` have no face. Setting ``version`` changes the face model version.
    """

    provider = "fake"
    max_concurrency = 1

    def __init__(self, collection_id: str = "fake") -> None:
        self.collection_id = collection_id
        self.faces: dict[str, tuple[str, str]] = {}  # face id → (external id, digest)
        self.searches = 0  # SearchFacesByImage calls, failed ones included
        self.indexed = 0  # IndexFaces calls
        self.fail_next = 0
        self.lose_next = 0
        self.garble_next = 0
        self.drop_reply_next = 0  # IndexFaces stores the face, then the reply is lost
        self.version = "v1"

    @property
    def target(self) -> str:
        return f"memory/{self.collection_id}"

    @property
    def parameters(self) -> Mapping[str, object]:
        return {"max_faces": 10, "threshold": 80.0}

    def describe(self) -> CollectionInfo:
        return CollectionInfo(self.collection_id, self.version, len(self.faces))

    def model_identity(self) -> str:
        return self.describe().model

    def create(self) -> CollectionInfo:
        return self.describe()

    def enroll(self, images: Sequence[QueryImage], external_ids: Sequence[str]) -> Enrollment:
        indexed = []
        for image, external_id in zip(images, external_ids, strict=True):
            self.indexed += 1
            if image.data.startswith(b"noface"):
                return Enrollment((), (NotIndexed(0, external_id, ("NO_FACE",)),), self.version)
            face_id = str(uuid.uuid4())
            self.faces[face_id] = (external_id, image.digest)
            if self.drop_reply_next:
                self.drop_reply_next -= 1
                raise UnansweredError("read timeout", provider="fake", operation="fake index")
            indexed.append(IndexedFace(face_id, external_id, BoundingBox(0, 0, 1, 1)))
        return Enrollment(tuple(indexed), (), self.version)

    def search(
        self, image: QueryImage, *, max_faces: int | None = None, threshold: float | None = None
    ) -> SearchOutcome:
        self.searches += 1
        if self.fail_next:
            self.fail_next -= 1
            raise RateLimitedError("slow down", provider="fake", operation="fake search")
        if self.lose_next:
            self.lose_next -= 1
            raise UnansweredError("read timed out", provider="fake", operation="fake search")
        if self.garble_next:
            self.garble_next -= 1
            raise BadReplyError("FaceMatches is not a list", provider="fake", operation="search")
        model = model_identity(self.collection_id, self.version, len(self.faces))
        if image.data.startswith(b"noface"):
            return NoFaceFound(model, "no face")
        matches = [
            FaceMatch(face_id, external_id, 99.9)
            for face_id, (external_id, digest) in self.faces.items()
            if digest == image.digest
        ]
        # Every other probe "resembles" some stranger by a digest-dependent amount.
        score = 80.0 + int(hashlib.sha256(image.data).hexdigest()[:4], 16) % 1900 / 100
        matches.append(FaceMatch("00000000-0000-0000-0000-000000000000", "stranger", score))
        return FaceSearch(model, tuple(matches[: max_faces or 10]), max_faces or 10, 80.0)

    def list_faces(self, *, page_size: int = 1000, next_token: str | None = None) -> FacePage:
        faces = tuple(
            IndexedFace(face_id, external_id, BoundingBox(0, 0, 1, 1))
            for face_id, (external_id, _) in self.faces.items()
        )
        return FacePage(faces, None, self.version)

    def iter_faces(self, *, page_size: int = 1000) -> Iterator[IndexedFace]:
        yield from self.list_faces().faces

    def delete_faces(self, face_ids: Sequence[str]):  # type: ignore[no-untyped-def]
        from providers.face_collection import DeletedFaces

        gone = [face_id for face_id in face_ids if self.faces.pop(face_id, None)]
        return DeletedFaces(tuple(gone), {})

    def list_collections(self) -> list:
        return []

    def delete(self) -> None:
        self.faces.clear()


@pytest.fixture
def fake_collection() -> FakeCollection:
    """An empty in-memory collection."""
    return FakeCollection()
