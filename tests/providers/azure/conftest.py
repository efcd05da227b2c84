"""The fake Image Analysis service, started once per session, and taggers pointed at it.

The key is random per session, so a test that finds it in a message, a repr or a log
record has found a real leak, not a constant that happens to appear.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

from fixtures.fake_azure.app import FakeImageAnalysis
from fixtures.fake_azure.faults import FaultPlan
from fixtures.fake_azure.tag_model import scene, train_tagger
from providers.http.background_server import BackgroundServer
from providers.query import QueryImage

KEY = f"test-vision-key-{secrets.token_hex(12)}"
MODEL_VERSION = "2023-10-01"
THRESHOLD = 0.3


@dataclass
class Service:
    """The running fake and where it listens."""

    fake: FakeImageAnalysis
    url: str


@pytest.fixture(scope="session")
def service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Service]:
    """A fake Image Analysis on 127.0.0.1 with a freshly trained tiny tagger."""
    model = train_tagger(tmp_path_factory.mktemp("fake-azure-model"))
    fake = FakeImageAnalysis(model, key=KEY, model_version=MODEL_VERSION, threshold=THRESHOLD)
    with BackgroundServer(fake.app) as server:
        yield Service(fake, server.base_url)


@pytest.fixture
def fake(service: Service) -> Iterator[FakeImageAnalysis]:
    """The fake, reset after the test to no faults, quota or key echo, and its model version."""
    yield service.fake
    assert service.fake.wait_idle(), "the fake is still answering a request"
    service.fake.faults = FaultPlan()
    service.fake.quota = None
    service.fake.echo_key = False
    service.fake.latency_s = 0.0
    service.fake.model_version = MODEL_VERSION


@pytest.fixture
def key_env(monkeypatch: pytest.MonkeyPatch) -> str:
    """``VISION_KEY`` set to the fake's key for the test."""
    monkeypatch.setenv("VISION_KEY", KEY)
    return KEY


@pytest.fixture
def make_tagger(service: Service, fake: FakeImageAnalysis, key_env: str) -> Iterator[Callable]:
    """``make_tagger(**options)``: an ``AzureTagger`` on the fake, closed after the test."""
    from providers.azure.tagger import AzureTagger

    made: list[AzureTagger] = []

    def make(**options: object) -> AzureTagger:
        tagger = AzureTagger(service.url, **options)  # type: ignore[arg-type]
        made.append(tagger)
        return tagger

    yield make
    for tagger in made:
        tagger.close()


def scene_query(tag: str, seed: int = 0, side: int = 64) -> QueryImage:
    """A PNG query the fake's model tags as ``tag``."""
    return QueryImage.from_array(scene(tag, seed=seed, side=side), base=f"{tag}-{seed}")


@pytest.fixture
def query() -> Callable[..., QueryImage]:
    """``query(tag, seed=0, side=64)``: a scene image as a ``QueryImage``."""
    return scene_query
