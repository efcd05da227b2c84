"""``RekognitionCollection`` through real boto3 against the local engine: every operation."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from providers.errors import BadImageError
from providers.face_collection import (
    CollectionExistsError,
    CollectionNotFoundError,
    FaceCollection,
    FaceSearch,
    InvalidRequestError,
    NoFaceFound,
)
from providers.faces_local.server import FaceServer
from providers.query import QueryImage
from providers.rekognition.collection import RekognitionCollection

from .conftest import blank, face_pixels, local_collection, png


def test_adapter_is_a_face_collection(
    collection: RekognitionCollection, server: FaceServer
) -> None:
    assert isinstance(collection, FaceCollection)
    assert collection.provider == "local"
    assert collection.target == f"{server.base_url}/{collection.collection_id}"
    assert collection.parameters == {"max_faces": 10, "threshold": 80.0, "quality_filter": "NONE"}


def test_describe_and_model_identity(
    collection: RekognitionCollection, face_ids: list[int]
) -> None:
    info = collection.describe()
    assert info.face_count == 0 and info.arn and info.created is not None
    version = info.face_model_version
    assert collection.model_identity() == f"{collection.collection_id}@face-model-{version}#faces=0"
    assert info.to_json()["model"] == collection.model_identity()
    collection.enroll([png(face_pixels(face_ids[0]))], ["me"])
    # Enrolling through the adapter refreshes the identity: a new face count is a new model.
    assert collection.model_identity().endswith("#faces=1")


def test_create_twice_and_unknown_collection(
    collection: RekognitionCollection, server: FaceServer
) -> None:
    with pytest.raises(CollectionExistsError, match="CreateCollection"):
        collection.create()
    ghost = local_collection(server, "never-created")
    for call in (ghost.describe, ghost.delete, ghost.model_identity):
        with pytest.raises(CollectionNotFoundError, match="never-created"):
            call()
    with pytest.raises(CollectionNotFoundError, match=r"DescribeCollection .*never-created"):
        ghost.search(png(blank()))


def test_list_collections(
    collection: RekognitionCollection, gallery: RekognitionCollection
) -> None:
    summaries = {s.collection_id: s for s in collection.list_collections()}
    assert {collection.collection_id, gallery.collection_id} <= set(summaries)
    assert summaries["gallery"].face_model_version == gallery.describe().face_model_version


def test_enroll_reports_indexed_and_not_indexed(
    collection: RekognitionCollection, face_ids: list[int]
) -> None:
    images = [
        png(face_pixels(face_ids[0])),
        png(blank()),  # no face
        QueryImage.from_array(face_pixels(face_ids[1], side=30)),  # under 40 px: never sent
        QueryImage(b"not an image", "image/png"),
        png(face_pixels(face_ids[2])),
    ]
    result = collection.enroll(images, ["a", "b", "c", "d", "e"])
    assert [face.external_id for face in result.indexed] == ["a", "e"]
    reasons = {item.external_id: (item.index, item.reasons) for item in result.not_indexed}
    assert reasons == {
        "b": (1, ("NO_FACE",)),
        "c": (2, ("BAD_IMAGE",)),
        "d": (3, ("BAD_IMAGE",)),
    }
    assert "40x40" in next(i.message for i in result.not_indexed if i.external_id == "c")
    assert result.pending == () and result.error is None and result.face_model_version
    assert collection.describe().face_count == 2
    assert result.to_json()["indexed"][0]["external_id"] == "a"


def test_enroll_checks_every_id_before_sending(
    collection: RekognitionCollection, server: FaceServer, face_ids: list[int]
) -> None:
    before = server.faults.requests
    image = png(face_pixels(face_ids[0]))
    for bad in ("has space", "x" * 256, ""):
        with pytest.raises(InvalidRequestError, match="ExternalImageId"):
            collection.enroll([image, image], ["fine", bad])
    with pytest.raises(InvalidRequestError, match="2 images but 1 external ids"):
        collection.enroll([image, image], ["one"])
    assert server.faults.requests == before


def test_search_ranks_the_enrolled_face_first(
    gallery: RekognitionCollection, face_ids: list[int]
) -> None:
    probe = face_ids[3]
    outcome = gallery.search(png(face_pixels(probe)), max_faces=5, threshold=0)
    assert isinstance(outcome, FaceSearch)
    assert outcome.matches[0].external_id == f"lfw-{probe}"
    assert outcome.matches[0].similarity > 95
    assert len(outcome.matches) == 5 and outcome.max_faces == 5 and outcome.threshold == 0
    scores = [m.similarity for m in outcome.matches]
    assert scores == sorted(scores, reverse=True)
    assert outcome.rank_of(f"lfw-{probe}") == 1 and outcome.rank_of("nobody") is None
    assert outcome.model == gallery.model_identity()
    assert outcome.model.endswith("#faces=8")
    assert outcome.searched_box is not None and outcome.searched_confidence
    default = gallery.search(png(face_pixels(probe)))
    assert isinstance(default, FaceSearch) and default.threshold == 80.0
    assert all(m.similarity >= 80 for m in default.matches)


def test_search_of_a_stranger_finds_no_close_match(
    gallery: RekognitionCollection, face_ids: list[int]
) -> None:
    outcome = gallery.search(png(face_pixels(face_ids[12])), threshold=0, max_faces=8)
    assert isinstance(outcome, FaceSearch)
    assert f"lfw-{face_ids[12]}" not in [m.external_id for m in outcome.matches]
    assert outcome.matches[0].similarity < outcome_same_face(gallery, face_ids)


def outcome_same_face(gallery: RekognitionCollection, face_ids: list[int]) -> float:
    """The similarity of an enrolled face searched with its own image."""
    same = gallery.search(png(face_pixels(face_ids[0])), threshold=0, max_faces=1)
    assert isinstance(same, FaceSearch)
    return same.matches[0].similarity


def test_no_face_is_an_outcome_not_an_error(gallery: RekognitionCollection) -> None:
    outcome = gallery.search(png(blank()))
    assert isinstance(outcome, NoFaceFound)
    assert outcome.model == gallery.model_identity()
    assert outcome.to_json()["outcome"] == "no_face"


def test_search_refuses_bad_parameters_and_images(
    gallery: RekognitionCollection, face_ids: list[int]
) -> None:
    image = png(face_pixels(face_ids[0]))
    for params in ({"max_faces": 0}, {"max_faces": 4097}, {"threshold": -1}, {"threshold": 100.5}):
        with pytest.raises(InvalidRequestError, match="SearchFacesByImage"):
            gallery.search(image, **params)  # type: ignore[arg-type]
    with pytest.raises(BadImageError, match="40x40"):
        gallery.search(QueryImage.from_array(face_pixels(face_ids[0], side=32)))


def test_oversized_image_is_downscaled_and_still_matches(
    collection: RekognitionCollection, face_ids: list[int]
) -> None:
    # A lossless image over 5 MB (a face on incompressible noise): the adapter shrinks it.
    canvas = np.random.default_rng(1).integers(0, 256, (1600, 1600, 3), dtype=np.uint8)
    canvas[500:1100, 500:1100] = face_pixels(face_ids[4], side=600)
    big = png(canvas)
    assert len(big.data) > 5 * 1024 * 1024
    result = collection.enroll([big], ["big"])
    assert [face.external_id for face in result.indexed] == ["big"]
    found = collection.search(png(face_pixels(face_ids[4])), threshold=90)
    assert isinstance(found, FaceSearch) and found.matches[0].external_id == "big"


def test_list_faces_pages_and_delete_faces(
    collection: RekognitionCollection, face_ids: list[int]
) -> None:
    chosen = face_ids[:5]
    enrolled = collection.enroll([png(face_pixels(i)) for i in chosen], [f"p{i}" for i in chosen])
    first = collection.list_faces(page_size=2)
    assert len(first.faces) == 2 and first.next_token
    second = collection.list_faces(page_size=2, next_token=first.next_token)
    assert {f.face_id for f in first.faces}.isdisjoint(f.face_id for f in second.faces)
    everything = list(collection.iter_faces(page_size=2))
    assert [f.face_id for f in everything] == [f.face_id for f in enrolled.indexed]
    with pytest.raises(InvalidRequestError, match="MaxResults"):
        collection.list_faces(page_size=0)

    unknown = "00000000-0000-4000-8000-000000000000"
    result = collection.delete_faces([everything[0].face_id, unknown])
    assert result.deleted == (everything[0].face_id,)
    assert result.not_deleted == {unknown: ("FACE_NOT_FOUND",)}
    assert collection.model_identity().endswith("#faces=4")
    with pytest.raises(InvalidRequestError, match="FaceId"):
        collection.delete_faces(["not-a-uuid"])


def test_concurrent_searches_agree(gallery: RekognitionCollection, face_ids: list[int]) -> None:
    probes = face_ids[:4]
    results: dict[int, str | None] = {}

    def search(i: int) -> None:
        outcome = gallery.search(png(face_pixels(i)), max_faces=1, threshold=0)
        results[i] = outcome.matches[0].external_id if isinstance(outcome, FaceSearch) else None

    threads = [threading.Thread(target=search, args=(i,)) for i in probes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert results == {i: f"lfw-{i}" for i in probes}


def test_bad_adapter_arguments_are_value_errors(server: FaceServer) -> None:
    for options in ({"max_faces": 0}, {"threshold": 120.0}, {"index_quality_filter": "BEST"}):
        with pytest.raises(ValueError):
            local_collection(server, "c", **options)
    with pytest.raises(ValueError, match="CollectionId"):
        local_collection(server, "no/slash")
