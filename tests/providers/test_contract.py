"""One contract over every registered provider: built from the registry against its test
fake, it answers through its protocol as the audit expects.

A provider added to ``providers.registry.SPECS`` without a fake here fails this test.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import numpy as np
import pytest

from fixtures.fake_azure.app import FakeImageAnalysis
from fixtures.fake_azure.tag_model import scene, train_tagger
from fixtures.fake_vertex.app import FakeVertex
from providers import registry
from providers.classifier import Classifier
from providers.http.background_server import BackgroundServer
from providers.local.server import create_app
from providers.query import QueryImage
from providers.spec import BuildContext, ProviderKind

LABELS = ["cat", "dog", "ship"]
AZURE_KEY = "contract-test-key"


@pytest.fixture(scope="session")
def untrained_model(tmp_path_factory: pytest.TempPathFactory):
    """A seeded, untrained ``providers.local`` model file (16×16 input, three labels)."""
    import torch

    from providers.local.arch import build_model
    from providers.local.model_file import ModelMeta, save_model

    torch.manual_seed(0)
    mean, std = [0.5, 0.5, 0.5], [0.25, 0.25, 0.25]
    model = build_model("small", len(LABELS), mean, std)
    meta = ModelMeta(arch="small", labels=LABELS, input_size=16, mean=mean, std=std)
    return save_model(tmp_path_factory.mktemp("contract") / "model.pt", model, meta)


@contextmanager
def _mock(_: pytest.TempPathFactory, __: object) -> Iterator[BuildContext]:
    yield BuildContext(target="labels=cat+dog+ship")


@contextmanager
def _local(_: pytest.TempPathFactory, model: object) -> Iterator[BuildContext]:
    with BackgroundServer(create_app(model, device="cpu")) as server:  # type: ignore[arg-type]
        yield BuildContext(target=server.base_url)


@contextmanager
def _vertex(tmp: pytest.TempPathFactory, model: object) -> Iterator[BuildContext]:
    fake = FakeVertex(workdir=tmp.mktemp("contract-vertex"))
    with BackgroundServer(fake.app) as server:
        endpoint = fake.deploy_file(model, "projects/contract/locations/us-central1")  # type: ignore[arg-type]
        yield BuildContext(target=endpoint, endpoint_url=server.base_url)


@contextmanager
def _azure(tmp: pytest.TempPathFactory, _: object) -> Iterator[BuildContext]:
    fake = FakeImageAnalysis(
        train_tagger(tmp.mktemp("contract-azure")), key=AZURE_KEY, model_version="v1"
    )
    with BackgroundServer(fake.app) as server, pytest.MonkeyPatch.context() as patch:
        patch.setenv("VISION_KEY", AZURE_KEY)
        yield BuildContext(target=server.base_url)


FAKES: dict[str, Callable[[pytest.TempPathFactory, object], Any]] = {
    "mock": _mock,
    "local": _local,
    "vertex": _vertex,
    "azure": _azure,
}


def _queries() -> list[QueryImage]:
    rng = np.random.default_rng(0)
    pixels = [scene("sky", seed=1), rng.integers(0, 256, (64, 64, 3), dtype=np.uint8)]
    return [QueryImage.from_array(p, base=f"img{i}") for i, p in enumerate(pixels)]


@pytest.mark.parametrize("name", registry.names(ProviderKind.CLASSIFIER))
def test_every_classifier_answers_through_the_protocol(name, tmp_path_factory, untrained_model):
    assert name in FAKES, f"provider {name} has no fake in the contract test"
    spec = registry.get(name)
    assert spec.price("query") is not None and spec.target_help and spec.summary
    with FAKES[name](tmp_path_factory, untrained_model) as ctx:
        adapter = registry.build(name, ctx)
        assert isinstance(adapter, Classifier)
        assert adapter.provider == name and adapter.target
        assert "@" not in adapter.target.split("//")[-1].split("/")[0]  # no userinfo
        assert adapter.max_batch >= 1 and adapter.max_concurrency >= 1
        replies = adapter.classify(_queries())
        assert len(replies) == 2
        for reply in replies:
            assert all(isinstance(v, float) and math.isfinite(v) for v in reply.values.values())
        # Every reply names the model that gave it; a free identity is the same string.
        assert all(isinstance(reply.model, str) and reply.model for reply in replies)
        identity = adapter.model_identity()
        assert identity is None or {reply.model for reply in replies} == {identity}
        labels = adapter.labels()
        assert labels is None or set(replies[0].values) <= set(labels)
        with pytest.raises(ValueError, match="no option"):
            registry.build(name, BuildContext(target=ctx.target, options={"bogus": "1"}))


@contextmanager
def _face_engine(tmp: pytest.TempPathFactory, name: str) -> Iterator[BuildContext]:
    from providers.faces_local.server import serve_in_background

    server = serve_in_background(tmp.mktemp(f"contract-{name}"))
    try:
        with pytest.MonkeyPatch.context() as patch:
            for key, value in {
                "AWS_ACCESS_KEY_ID": "testing",
                "AWS_SECRET_ACCESS_KEY": "testing",
                "AWS_DEFAULT_REGION": "us-east-1",
            }.items():
                patch.setenv(key, value)
            yield BuildContext(
                target=f"contract-{name}", endpoint_url=server.base_url, region="us-east-1"
            )
    finally:
        server.stop()


@pytest.mark.parametrize("name", registry.names(ProviderKind.FACE_COLLECTION))
def test_every_face_collection_enrolls_and_searches(name, tmp_path_factory):
    from skimage.data import lfw_subset

    from providers.face_collection import FaceCollection, FaceSearch, NoFaceFound

    spec = registry.get(name, ProviderKind.FACE_COLLECTION)
    assert spec.price("search") is not None and spec.price("index") is not None
    with _face_engine(tmp_path_factory, name) as ctx:
        collection = registry.build(name, ctx, ProviderKind.FACE_COLLECTION)
        assert isinstance(collection, FaceCollection)
        assert collection.provider == name and collection.target
        collection.create()
        face = np.rint(lfw_subset()[0] * 255).astype(np.uint8)
        pixels = np.repeat(np.kron(face, np.ones((4, 4), np.uint8))[..., None], 3, axis=2)
        enrolled = collection.enroll([QueryImage.from_array(pixels)], ["person-0"])
        assert [f.external_id for f in enrolled.indexed] == ["person-0"]
        found = collection.search(QueryImage.from_array(pixels))
        assert isinstance(found, FaceSearch) and found.matches[0].external_id == "person-0"
        assert found.matches[0].similarity > 90
        blank = QueryImage.from_array(np.full((100, 100, 3), 128, np.uint8))
        assert isinstance(collection.search(blank), NoFaceFound)
        assert collection.describe().face_count == 1
        collection.delete()
