"""Registry entries of the face-collection providers: "rekognition" and "local"."""

from __future__ import annotations

import pytest

from providers.errors import ProviderOptionError
from providers.faces_local.server import FaceServer
from providers.faces_local.spec import DEFAULT_URL
from providers.faces_local.spec import SPEC as LOCAL
from providers.rekognition.collection import RekognitionCollection
from providers.rekognition.spec import SPEC as REKOGNITION
from providers.spec import BuildContext, ProviderKind


def test_entries_describe_kind_extra_prices_and_rate() -> None:
    for spec in (REKOGNITION, LOCAL):
        assert spec.kind is ProviderKind.FACE_COLLECTION and spec.extra == "aws"
        assert {row.operation for row in spec.prices} == {"index", "search", "storage"}
        assert "max_faces" in spec.options and "threshold" in spec.options
    assert REKOGNITION.name == "rekognition" and LOCAL.name == "local"
    assert REKOGNITION.price("index").usd == REKOGNITION.price("search").usd == 0.001
    assert REKOGNITION.price("storage").usd == 0.00001
    assert all(row.usd == 0.0 for row in LOCAL.prices)
    assert (REKOGNITION.rate.per_s, REKOGNITION.rate.burst) == (5.0, 5)
    assert LOCAL.rate.per_s is None
    assert DEFAULT_URL in LOCAL.target_help


def test_local_builds_the_adapter_with_dummy_credentials(server: FaceServer) -> None:
    ctx = BuildContext(
        target="gallery",
        endpoint_url=server.base_url,
        options={"max_faces": "3", "threshold": "90", "concurrency": "2"},
    )
    adapter = LOCAL.build(ctx)
    assert isinstance(adapter, RekognitionCollection)
    assert adapter.provider == "local" and adapter.target == f"{server.base_url}/gallery"
    assert adapter.parameters["max_faces"] == 3 and adapter.parameters["threshold"] == 90.0
    assert adapter.max_concurrency == 2
    credentials = adapter._client._request_signer._credentials
    assert credentials.access_key == "testing"
    default = LOCAL.build(BuildContext(target="C"))
    assert default.target == f"{DEFAULT_URL}/C"


def test_rekognition_builds_for_a_region() -> None:
    adapter = REKOGNITION.build(BuildContext(target="my.collection-1", region="eu-west-1"))
    assert adapter.provider == "rekognition" and adapter.target == "eu-west-1/my.collection-1"


@pytest.mark.parametrize(
    ("ctx", "message"),
    [
        (BuildContext(target=""), "collection id"),
        (BuildContext(target="bad id", region="us-east-1"), "CollectionId"),
        (BuildContext(target="C", region="xx-nowhere-9"), "not offered"),
        (BuildContext(target="C", region="us-east-1", options={"max_faces": "2.5"}), "integer"),
        (BuildContext(target="C", region="us-east-1", options={"threshold": "high"}), "number"),
        (BuildContext(target="C", region="us-east-1", options={"max_faces": "0"}), "MaxFaces"),
        (BuildContext(target="C", endpoint_url="ftp://x", region="us-east-1"), "http"),
    ],
)
def test_bad_options_are_option_errors(ctx: BuildContext, message: str) -> None:
    with pytest.raises(ProviderOptionError, match=message):
        REKOGNITION.build(ctx)
