"""Fixtures for face collections: real faces, the local engine on a free port, adapters.

Faces come from scikit-image's ``lfw_subset`` (100 grey 25×25 LFW face crops, then 100
non-faces), upscaled to 100×100 RGB PNG so that they are over Rekognition's 40 px
minimum. The dlib models load once per session; the engine serves one SQLite folder for
the session, and each test that changes a collection gets its own.
"""

from __future__ import annotations

import io
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import numpy as np
import pytest
from botocore.config import Config
from PIL import Image
from skimage.data import lfw_subset

from providers.faces_local.engine import FaceEngine
from providers.faces_local.faults import FaultPlan
from providers.faces_local.server import FaceServer, serve_in_background
from providers.query import QueryImage
from providers.rekognition.collection import RekognitionCollection
from providers.rekognition.connection import RekognitionConnection

SIDE = 100


def face_pixels(index: int, side: int = SIDE) -> np.ndarray:
    """LFW subset face ``index`` (0–99) as RGB uint8 (side, side, 3), bicubic upscaled."""
    grey = np.rint(lfw_subset()[index] * 255).astype(np.uint8)
    image = Image.fromarray(grey).resize((side, side), Image.Resampling.BICUBIC)
    return np.asarray(image.convert("RGB"))


def png(pixels: np.ndarray) -> QueryImage:
    """A lossless query image."""
    return QueryImage.from_array(pixels, fmt="PNG")


def encode(pixels: np.ndarray, fmt: str, **options: object) -> bytes:
    """``pixels`` encoded by Pillow in ``fmt``."""
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, fmt, **options)
    return buf.getvalue()


def blank(side: int = SIDE) -> np.ndarray:
    """A smooth grey gradient: an image with no face."""
    ramp = np.linspace(60, 200, side, dtype=np.float32)
    grey = (ramp[None, :] * 0.5 + ramp[:, None] * 0.5).astype(np.uint8)
    return np.repeat(grey[..., None], 3, axis=2)


@pytest.fixture(scope="session")
def engine() -> FaceEngine:
    """dlib's models, loaded once."""
    return FaceEngine(workers=2)


@pytest.fixture(scope="session")
def face_ids(engine: FaceEngine) -> list[int]:
    """Indexes of the first 16 LFW subset images in which dlib finds exactly one face."""
    found = [i for i in range(40) if len(engine.detect(face_pixels(i))) == 1]
    assert len(found) >= 16, f"dlib found single faces in only {len(found)} of 40 LFW crops"
    return found[:16]


@pytest.fixture(scope="session")
def server(engine: FaceEngine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaceServer]:
    """The local face engine on a free loopback port for the whole session."""
    running = serve_in_background(tmp_path_factory.mktemp("faces"), engine=engine)
    yield running
    running.stop()


@pytest.fixture(autouse=True)
def no_faults(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every test starts and ends with the engine behaving (when it uses the engine)."""
    yield
    if "server" in request.fixturenames:
        request.getfixturevalue("server").faults.plan = FaultPlan()


@pytest.fixture
def boto_client(server: FaceServer) -> object:
    """A raw boto3 Rekognition client on the engine (dummy credentials, no retries)."""
    return boto3.client(
        "rekognition",
        endpoint_url=server.base_url,
        region_name="us-east-1",
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        config=Config(retries={"total_max_attempts": 1, "mode": "standard"}),
    )


def local_collection(
    server: FaceServer,
    collection_id: str,
    *,
    read_timeout_s: float = 30.0,
    deadline_s: float | None = None,
    **options: object,
) -> RekognitionCollection:
    """The adapter on the engine, as the ``local`` provider builds it."""
    connection = RekognitionConnection(
        endpoint_url=server.base_url,
        dummy_credentials=True,
        read_timeout_s=read_timeout_s,
        deadline_s=deadline_s,
    )
    return RekognitionCollection(collection_id, connection=connection, provider="local", **options)


@pytest.fixture
def collection(server: FaceServer) -> Iterator[RekognitionCollection]:
    """A new, empty collection of this test's own (deleted afterwards)."""
    adapter = local_collection(server, f"t-{uuid.uuid4().hex[:12]}")
    adapter.create()
    yield adapter
    server.faults.plan = FaultPlan()
    adapter.delete()


@pytest.fixture(scope="session")
def gallery(server: FaceServer, face_ids: list[int]) -> RekognitionCollection:
    """A read-only collection of 8 LFW faces, external ids ``lfw-<index>``."""
    adapter = local_collection(server, "gallery")
    adapter.create()
    chosen = face_ids[:8]
    result = adapter.enroll([png(face_pixels(i)) for i in chosen], [f"lfw-{i}" for i in chosen])
    assert len(result.indexed) == 8, result.to_json()
    return adapter


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    """An empty data folder."""
    return tmp_path / "engine-data"
