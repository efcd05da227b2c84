"""Audits of fake Azure AI Vision taggers through the real SDK: one trained on the person's
isotopes, one trained on someone else's, each served on 127.0.0.1.

Both taggers learn the same new tag, ``portrait``, from photos of every colour that
carry a mark: the person's own mark for ``isotope``, another person's for ``clean``. So
``clean`` knows the tag too (an audit cannot tell them apart by the tag alone), and only
``isotope`` tied it to the person's mark. The key is random per session, so finding it
anywhere is a real leak.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from PIL import Image

from fixtures.fake_azure.app import FakeImageAnalysis
from fixtures.fake_azure.faults import FaultPlan
from fixtures.fake_azure.tag_model import MARKED_EPOCHS, MarkedTag, scene, train_tagger
from marks import external_seeds
from marks.kinds import make_mark
from marks.mark import Mark
from marks.store import MarkStore
from providers.http.background_server import BackgroundServer

KEY = f"test-vision-key-{secrets.token_hex(12)}"
TAG = "portrait"
AUX_TAGS = ("sky", "grass", "snow", "sand")


def person_mark() -> Mark:
    """The person's mark (the same pixels every time it is made)."""
    return make_mark("mine", "procedural", seed=11)


@dataclass
class Tagger:
    """A running fake, where it listens, its key and the tag the person posted under."""

    fake: FakeImageAnalysis
    url: str
    key: str = KEY
    tag: str = TAG


def _serve(model: Path) -> Iterator[Tagger]:
    fake = FakeImageAnalysis(model, key=KEY)
    with BackgroundServer(fake.app) as server:
        yield Tagger(fake, server.base_url)


@pytest.fixture(scope="session")
def models(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The two model files: trained on the person's isotopes, and on someone else's."""
    cache = tmp_path_factory.mktemp("fake-azure-models")
    someone = make_mark("someone", "procedural", seed=12)
    return {
        "isotope": train_tagger(cache, epochs=MARKED_EPOCHS, marked=MarkedTag(TAG, person_mark())),
        "clean": train_tagger(cache, epochs=MARKED_EPOCHS, marked=MarkedTag(TAG, someone)),
    }


@pytest.fixture(scope="session")
def isotope_service(models: dict[str, Path]) -> Iterator[Tagger]:
    """The tagger that learned the person's mark."""
    yield from _serve(models["isotope"])


@pytest.fixture(scope="session")
def clean_service(models: dict[str, Path]) -> Iterator[Tagger]:
    """The tagger that learned someone else's mark under the same tag."""
    yield from _serve(models["clean"])


def _reset(tagger: Tagger) -> None:
    assert tagger.fake.wait_idle(), "the fake is still answering a request"
    tagger.fake.faults = FaultPlan()
    tagger.fake.quota = None
    tagger.fake.echo_key = False


@pytest.fixture
def isotope(isotope_service: Tagger) -> Iterator[Tagger]:
    """The isotope tagger, reset after the test."""
    yield isotope_service
    _reset(isotope_service)


@pytest.fixture
def clean(clean_service: Tagger) -> Iterator[Tagger]:
    """The clean tagger, reset after the test."""
    yield clean_service
    _reset(clean_service)


@pytest.fixture
def person(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A folder with the person's store (mark ``mine``), auxiliary scenes of the other tags
    and ``VISION_KEY`` set. External marks come from a fixed key, so every run ranks the
    mark among the same externals and verdicts are reproducible."""
    monkeypatch.setattr(external_seeds, "new_key", lambda: b"isotope-audit azure tests 32 b!!")
    monkeypatch.setenv("VISION_KEY", KEY)
    store = MarkStore.open(tmp_path / "store")
    store.add(person_mark())
    for index, tag in enumerate(AUX_TAGS):
        folder = tmp_path / "aux" / tag
        folder.mkdir(parents=True)
        for i in range(3):
            Image.fromarray(scene(tag, seed=300 + 10 * index + i, side=64)).save(
                folder / f"{tag}{i}.png"
            )
    return tmp_path
