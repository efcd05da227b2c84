"""The engine's SQLite store and the rules the service keeps around it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from providers.faces_local import wire
from providers.faces_local.engine import FaceEngine
from providers.faces_local.service import RekognitionService
from providers.faces_local.store import (
    CollectionTakenError,
    FaceStore,
    NewFace,
    NoSuchCollectionError,
)


def _face(seed: int, external_id: str = "x") -> NewFace:
    vector = np.random.default_rng(seed).normal(size=128).astype(np.float32)
    return NewFace(external_id, (0.1, 0.2, 0.5, 0.6), 99.0, vector)


def test_store_round_trip_and_private_files(data_dir: Path) -> None:
    store = FaceStore(data_dir)
    store.create_collection("c", "arn:c", "v1")
    with pytest.raises(CollectionTakenError, match="already exists"):
        store.create_collection("c", "arn:c", "v1")
    added = store.add_faces("c", "img-1", [_face(1, "a"), _face(2, "b")])
    assert [f.external_id for f in added] == ["a", "b"] and added[0].seq < added[1].seq
    store.close()

    reopened = FaceStore(data_dir)
    assert reopened.collection("c").face_count == 2
    gallery = reopened.gallery("c")
    np.testing.assert_array_equal(gallery.descriptors[1], _face(2).descriptor)
    assert [f.box for f in gallery.faces] == [(0.1, 0.2, 0.5, 0.6)] * 2
    assert (data_dir / "faces.sqlite3").stat().st_mode & 0o777 == 0o600
    assert data_dir.stat().st_mode & 0o777 == 0o700


def test_gallery_cache_follows_every_write(data_dir: Path) -> None:
    store = FaceStore(data_dir)
    store.create_collection("c", "arn:c", "v1")
    store.add_faces("c", "i", [_face(1)])
    first = store.gallery("c")
    assert store.gallery("c") is first  # unchanged: reused
    (face,) = store.add_faces("c", "i", [_face(2)])
    assert len(store.gallery("c").faces) == 2
    assert store.delete_faces("c", [face.face_id, "00000000-0000-4000-8000-000000000000"]) == [
        face.face_id
    ]
    assert len(store.gallery("c").faces) == 1
    # Another process writing the same file is seen too.
    other = FaceStore(data_dir)
    other.add_faces("c", "j", [_face(3)])
    assert len(store.gallery("c").faces) == 2
    store.delete_collection("c")
    with pytest.raises(NoSuchCollectionError):
        store.gallery("c")


def test_list_pages_in_order(data_dir: Path) -> None:
    store = FaceStore(data_dir)
    for name in ("b", "a", "c"):
        store.create_collection(name, f"arn:{name}", "v1")
    assert [c.collection_id for c in store.list_collections(None, 2)] == ["a", "b"]
    assert [c.collection_id for c in store.list_collections("b", 2)] == ["c"]
    faces = store.add_faces("a", "i", [_face(i) for i in range(5)])
    page = store.list_faces("a", faces[1].seq, 2)
    assert [f.face_id for f in page] == [faces[2].face_id, faces[3].face_id]


def test_descriptors_must_be_finite_128_vectors(data_dir: Path) -> None:
    store = FaceStore(data_dir)
    store.create_collection("c", "arn:c", "v1")
    bad = NewFace("x", (0, 0, 1, 1), 90.0, np.full(128, np.nan, np.float32))
    with pytest.raises(ValueError, match="128 finite"):
        store.add_faces("c", "i", [bad])
    assert store.collection("c").face_count == 0  # the transaction rolled back


def test_a_collection_of_another_face_model_is_refused(engine: FaceEngine, data_dir: Path) -> None:
    store = FaceStore(data_dir)
    store.create_collection("old", "arn:old", "dlib-0.0-older-model")
    service = RekognitionService(engine, store)
    described = service.handle("DescribeCollection", {"CollectionId": "old"})
    assert described["FaceModelVersion"] == "dlib-0.0-older-model"
    with pytest.raises(wire.AwsError, match="built with face model") as raised:
        service.handle("SearchFacesByImage", {"CollectionId": "old", "Image": {"Bytes": "AA=="}})
    assert raised.value.code == "InvalidParameterException"
