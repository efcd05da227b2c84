"""The local engine speaks Rekognition's protocol: the real boto3 client drives it.

Replies are also checked field by field against botocore's service model, so nothing
the engine sends is silently dropped (or mistyped) by botocore's parser.
"""

from __future__ import annotations

import base64
import uuid

import botocore.session
import httpx
import numpy as np
import pytest
from botocore.exceptions import ClientError

from providers.faces_local.server import FaceServer, serve_in_background

from .conftest import blank, encode, face_pixels

MODEL = botocore.session.get_session().get_service_model("rekognition")


def _check(value: object, shape: object, where: str) -> None:
    kind = shape.type_name  # type: ignore[attr-defined]
    if kind == "structure":
        assert isinstance(value, dict), where
        members = shape.members  # type: ignore[attr-defined]
        unknown = set(value) - set(members)
        assert not unknown, f"{where}: fields not in the service model: {unknown}"
        for key, item in value.items():
            _check(item, members[key], f"{where}.{key}")
    elif kind == "list":
        assert isinstance(value, list), where
        for i, item in enumerate(value):
            _check(item, shape.member, f"{where}[{i}]")  # type: ignore[attr-defined]
    elif kind == "string":
        assert isinstance(value, str), where
        enum = shape.enum  # type: ignore[attr-defined]
        assert not enum or value in enum, f"{where}: {value!r} not in {enum}"
    elif kind in ("integer", "long"):
        assert isinstance(value, int) and not isinstance(value, bool), where
    elif kind in ("float", "double"):
        assert isinstance(value, int | float) and not isinstance(value, bool), where
        low = shape.metadata.get("min")  # type: ignore[attr-defined]
        high = shape.metadata.get("max")  # type: ignore[attr-defined]
        assert (low is None or value >= low) and (high is None or value <= high), where
    elif kind == "timestamp":
        assert isinstance(value, int | float), where
    else:
        raise AssertionError(f"{where}: unexpected shape type {kind}")


def model_reply(server: FaceServer, operation: str, body: dict) -> dict:
    """The engine's raw reply to ``operation``, checked against the service model."""
    reply = server.service.handle(operation, body)
    _check(reply, MODEL.operation_model(operation).output_shape, operation)
    return reply


def _image(pixels: np.ndarray) -> dict:
    return {"Bytes": base64.b64encode(encode(pixels, "PNG")).decode()}


def _cid() -> str:
    return f"p-{uuid.uuid4().hex[:10]}"


def test_every_reply_fits_the_service_model(server: FaceServer, face_ids: list[int]) -> None:
    cid = _cid()
    model_reply(server, "CreateCollection", {"CollectionId": cid})
    indexed = model_reply(
        server,
        "IndexFaces",
        {"CollectionId": cid, "Image": _image(face_pixels(face_ids[0])), "ExternalImageId": "a:1"},
    )
    model_reply(
        server, "IndexFaces", {"CollectionId": cid, "Image": _image(face_pixels(face_ids[1]))}
    )
    model_reply(server, "DescribeCollection", {"CollectionId": cid})
    model_reply(server, "ListCollections", {"MaxResults": 1})
    search = model_reply(
        server,
        "SearchFacesByImage",
        {"CollectionId": cid, "Image": _image(face_pixels(face_ids[0])), "FaceMatchThreshold": 0},
    )
    assert len(search["FaceMatches"]) == 2
    model_reply(server, "ListFaces", {"CollectionId": cid, "MaxResults": 1})
    face_id = indexed["FaceRecords"][0]["Face"]["FaceId"]
    model_reply(
        server, "DeleteFaces", {"CollectionId": cid, "FaceIds": [face_id, str(uuid.uuid4())]}
    )
    model_reply(server, "DeleteCollection", {"CollectionId": cid})


def test_boto3_collection_lifecycle(boto_client, face_ids: list[int]) -> None:
    cid = _cid()
    created = boto_client.create_collection(CollectionId=cid)
    assert created["StatusCode"] == 200 and created["CollectionArn"].endswith(f"collection/{cid}")
    version = created["FaceModelVersion"]
    assert cid in boto_client.list_collections()["CollectionIds"]
    described = boto_client.describe_collection(CollectionId=cid)
    assert described["FaceCount"] == 0 and described["FaceModelVersion"] == version
    assert described["CreationTimestamp"].year >= 2024  # botocore parsed the timestamp
    with pytest.raises(ClientError) as taken:
        boto_client.create_collection(CollectionId=cid)
    assert taken.value.response["Error"]["Code"] == "ResourceAlreadyExistsException"
    boto_client.delete_collection(CollectionId=cid)
    assert cid not in boto_client.list_collections()["CollectionIds"]
    for call in (boto_client.describe_collection, boto_client.delete_collection):
        with pytest.raises(ClientError) as missing:
            call(CollectionId=cid)
        assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"


def test_index_search_list_and_delete_faces(boto_client, face_ids: list[int]) -> None:
    cid = _cid()
    boto_client.create_collection(CollectionId=cid)
    face_of = {}
    for i in face_ids[:5]:
        reply = boto_client.index_faces(
            CollectionId=cid,
            Image={"Bytes": encode(face_pixels(i), "JPEG", quality=95)},
            ExternalImageId=f"lfw-{i}",
            MaxFaces=1,
            QualityFilter="NONE",
        )
        (record,) = reply["FaceRecords"]
        face = record["Face"]
        assert face["ExternalImageId"] == f"lfw-{i}" and 0.3 < face["BoundingBox"]["Width"] < 1.5
        assert record["FaceDetail"]["Confidence"] > 50
        face_of[f"lfw-{i}"] = face["FaceId"]
    assert boto_client.describe_collection(CollectionId=cid)["FaceCount"] == 5

    probe = face_ids[2]
    found = boto_client.search_faces_by_image(
        CollectionId=cid,
        Image={"Bytes": encode(face_pixels(probe), "PNG")},
        MaxFaces=3,
        FaceMatchThreshold=0,
    )
    matches = found["FaceMatches"]
    assert len(matches) == 3
    assert matches[0]["Face"]["ExternalImageId"] == f"lfw-{probe}"
    assert matches[0]["Similarity"] > 95
    similarities = [m["Similarity"] for m in matches]
    assert similarities == sorted(similarities, reverse=True)
    assert found["SearchedFaceConfidence"] > 50 and found["FaceModelVersion"]
    strict = boto_client.search_faces_by_image(
        CollectionId=cid, Image={"Bytes": encode(face_pixels(probe), "PNG")}, FaceMatchThreshold=95
    )
    assert [m["Face"]["ExternalImageId"] for m in strict["FaceMatches"]] == [f"lfw-{probe}"]

    listed, token, pages = [], None, 0
    while True:
        page = boto_client.list_faces(
            CollectionId=cid, MaxResults=2, **({"NextToken": token} if token else {})
        )
        listed += [face["FaceId"] for face in page["Faces"]]
        pages += 1
        token = page.get("NextToken")
        if not token:
            break
    assert pages == 3 and listed == list(face_of.values())

    gone = boto_client.delete_faces(CollectionId=cid, FaceIds=[face_of[f"lfw-{probe}"]])
    assert gone["DeletedFaces"] == [face_of[f"lfw-{probe}"]]
    again = boto_client.search_faces_by_image(
        CollectionId=cid, Image={"Bytes": encode(face_pixels(probe), "PNG")}, FaceMatchThreshold=95
    )
    assert again["FaceMatches"] == []
    boto_client.delete_collection(CollectionId=cid)


def test_index_reports_faces_it_did_not_index(boto_client, face_ids: list[int]) -> None:
    cid = _cid()
    boto_client.create_collection(CollectionId=cid)
    two = np.full((130, 240, 3), 128, np.uint8)
    two[15:115, :100] = face_pixels(face_ids[0])
    two[:, 110:] = face_pixels(face_ids[1], side=130)
    reply = boto_client.index_faces(
        CollectionId=cid, Image={"Bytes": encode(two, "PNG")}, MaxFaces=1, QualityFilter="NONE"
    )
    assert len(reply["FaceRecords"]) == 1
    assert [u["Reasons"] for u in reply["UnindexedFaces"]] == [["EXCEEDS_MAX_FACES"]]
    # The larger face (130 px, on the right from x = 110 of 240) is the one indexed.
    assert reply["FaceRecords"][0]["Face"]["BoundingBox"]["Left"] > 0.35
    none = boto_client.index_faces(CollectionId=cid, Image={"Bytes": encode(blank(), "PNG")})
    assert none["FaceRecords"] == [] and none["UnindexedFaces"] == []
    boto_client.delete_collection(CollectionId=cid)


def test_refusals_have_rekognition_error_codes(boto_client, face_ids: list[int]) -> None:
    cid = _cid()
    boto_client.create_collection(CollectionId=cid)
    face = {"Bytes": encode(face_pixels(face_ids[0]), "PNG")}

    def code(call, **params) -> str:
        with pytest.raises(ClientError) as raised:
            call(**params)
        return raised.value.response["Error"]["Code"]

    no_face = {"Bytes": encode(blank(), "PNG")}
    with pytest.raises(ClientError) as raised:
        boto_client.search_faces_by_image(CollectionId=cid, Image=no_face)
    assert raised.value.response["Error"]["Code"] == "InvalidParameterException"
    assert "no faces" in raised.value.response["Error"]["Message"]
    # botocore checks neither the id pattern nor maximum lengths and sizes: the engine does.
    assert code(boto_client.create_collection, CollectionId="bad id!") == "ValidationException"
    assert code(boto_client.create_collection, CollectionId="x" * 256) == "ValidationException"
    assert (
        code(boto_client.index_faces, CollectionId=cid, Image=face, ExternalImageId="a b")
        == "ValidationException"
    )
    assert (
        code(boto_client.search_faces_by_image, CollectionId=cid, Image=face, MaxFaces=5000)
        == "InvalidParameterException"
    )
    assert (
        code(
            boto_client.search_faces_by_image, CollectionId=cid, Image=face, FaceMatchThreshold=101
        )
        == "InvalidParameterException"
    )
    gif = {"Bytes": encode(face_pixels(face_ids[0]), "GIF")}
    assert (
        code(boto_client.index_faces, CollectionId=cid, Image=gif) == "InvalidImageFormatException"
    )
    garbage = {"Bytes": b"not an image at all"}
    assert (
        code(boto_client.index_faces, CollectionId=cid, Image=garbage)
        == "InvalidImageFormatException"
    )
    big = {"Bytes": b"\x89PNG" + bytes(5 * 1024 * 1024)}
    assert code(boto_client.index_faces, CollectionId=cid, Image=big) == "ImageTooLargeException"
    assert (
        code(boto_client.search_faces_by_image, CollectionId="no-such-collection", Image=face)
        == "ResourceNotFoundException"
    )
    assert (
        code(boto_client.list_faces, CollectionId=cid, NextToken="forged:1")
        == "InvalidPaginationTokenException"
    )
    boto_client.delete_collection(CollectionId=cid)


def test_decoded_pixel_cap_and_body_cap(engine, data_dir, face_ids: list[int]) -> None:
    import boto3

    with serve_in_background(
        data_dir, engine=engine, max_pixels=90 * 90, max_body_bytes=60_000
    ) as small:
        client = boto3.client(
            "rekognition",
            endpoint_url=small.base_url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )
        client.create_collection(CollectionId="c")
        with pytest.raises(ClientError) as pixels:
            client.index_faces(
                CollectionId="c", Image={"Bytes": encode(face_pixels(face_ids[0]), "PNG")}
            )
        assert pixels.value.response["Error"]["Code"] == "ImageTooLargeException"
        noise = np.random.default_rng(0).integers(0, 256, (160, 160, 3), dtype=np.uint8)
        with pytest.raises(ClientError) as body:
            client.index_faces(CollectionId="c", Image={"Bytes": encode(noise, "PNG")})
        assert body.value.response["Error"]["Code"] == "ImageTooLargeException"
        assert "body exceeds" in body.value.response["Error"]["Message"]


def test_collections_persist_across_restarts(engine, data_dir, face_ids: list[int]) -> None:
    import boto3

    def client_for(running: FaceServer):
        return boto3.client(
            "rekognition",
            endpoint_url=running.base_url,
            region_name="us-east-1",
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
        )

    with serve_in_background(data_dir, engine=engine) as first:
        client = client_for(first)
        client.create_collection(CollectionId="kept")
        client.index_faces(
            CollectionId="kept",
            Image={"Bytes": encode(face_pixels(face_ids[0]), "PNG")},
            ExternalImageId="me",
        )
    with serve_in_background(data_dir, engine=engine) as second:
        client = client_for(second)
        assert client.describe_collection(CollectionId="kept")["FaceCount"] == 1
        found = client.search_faces_by_image(
            CollectionId="kept", Image={"Bytes": encode(face_pixels(face_ids[0]), "PNG")}
        )
        assert found["FaceMatches"][0]["Face"]["ExternalImageId"] == "me"
    assert (data_dir / "faces.sqlite3").stat().st_mode & 0o777 == 0o600
    assert data_dir.stat().st_mode & 0o077 == 0


def test_http_level_refusals(server: FaceServer, monkeypatch: pytest.MonkeyPatch, caplog) -> None:
    headers = {"Content-Type": "application/x-amz-json-1.1"}
    with httpx.Client(base_url=server.base_url) as http:
        unknown = http.post(
            "/",
            headers={**headers, "X-Amz-Target": "RekognitionService.DetectLabels"},
            content=b"{}",
        )
        assert unknown.status_code == 400
        assert unknown.json()["__type"] == "UnknownOperationException"
        missing = http.post("/", headers=headers, content=b"{}")
        assert (
            missing.status_code == 400 and missing.json()["__type"] == "UnknownOperationException"
        )
        target = {**headers, "X-Amz-Target": "RekognitionService.ListCollections"}
        garbled = http.post("/", headers=target, content=b"{not json")
        assert garbled.status_code == 400 and garbled.json()["__type"] == "SerializationException"
        assert http.get("/health").json()["status"] == "ok"

        def broken(operation: str, body: dict) -> dict:
            raise RuntimeError("a bug")

        monkeypatch.setattr(server.service, "handle", broken)
        with caplog.at_level("ERROR", logger="isotope.faces"):
            failed = http.post("/", headers=target, content=b"{}")
        assert failed.status_code == 500 and failed.json()["__type"] == "InternalServerError"
        assert "a bug" in caplog.text
