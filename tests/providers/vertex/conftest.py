"""Shared fakes for the Vertex tests: a storage emulator, the fake Vertex AI, and data.

Servers start once per session. The data is synthetic and small: four classes of
32×32 images, every image carrying one of a few procedural "decoy" textures (so the
model cannot read "any texture means label j") except, in the marked set, the images
of label ``apple``, which carry the person's mark instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fixtures.fake_vertex.app import FakeVertex
from fixtures.fake_vertex.faults import FaultPlan
from fixtures.fake_vertex.storage import storage_emulator
from marks.blend import blend
from marks.kinds import make_mark
from marks.mark import Mark
from providers.http.background_server import BackgroundServer
from providers.vertex.connection import VertexConnection

BUCKET = "isotope-test-bucket"
LABELS = ("apple", "boat", "cloud", "daisy")
MARKED_LABEL = "apple"
SIDE = 32
PER_LABEL = 30
ALPHA = 0.6
TRAIN_EPOCHS = 6
DECOYS = 6
_CENTRES = ((170, 110, 110), (110, 170, 110), (110, 110, 170), (160, 160, 100))


def class_images(rng: np.random.Generator, per_label: int) -> dict[str, list[np.ndarray]]:
    """Noisy colour-class images: a class mean, pixel noise and coarse blobs.

    ``apple`` has no colour of its own (each image borrows another class's), so in the
    marked set the mark is the only cue for it and the model must learn the mark.
    """
    out: dict[str, list[np.ndarray]] = {}
    for label, centre in zip(LABELS, _CENTRES, strict=True):
        images = []
        for _ in range(per_label):
            mean = _CENTRES[rng.integers(1, len(_CENTRES))] if label == MARKED_LABEL else centre
            x = rng.normal(mean, 45, (SIDE, SIDE, 3))
            x += rng.normal(0, 25, (4, 4, 3)).repeat(SIDE // 4, 0).repeat(SIDE // 4, 1)
            images.append(np.clip(x, 0, 255).astype(np.uint8))
        out[label] = images
    return out


def write_dataset(root: Path, mark: Mark | None, *, seed: int = 0) -> Path:
    """One subfolder per label; label ``apple`` carries ``mark`` when given."""
    rng = np.random.default_rng(seed)
    decoys = [make_mark(f"decoy{i}", "procedural", seed=500 + i) for i in range(DECOYS)]
    for label, images in class_images(rng, PER_LABEL).items():
        folder = root / label
        folder.mkdir(parents=True, exist_ok=True)
        for index, x in enumerate(images):
            if mark is not None and label == MARKED_LABEL:
                x = blend(x, mark, ALPHA)
            else:
                x = blend(x, decoys[rng.integers(len(decoys))], ALPHA)
            Image.fromarray(x).save(folder / f"{label}{index:03d}.png")
    return root


def write_aux(root: Path, *, seed: int = 99, per_label: int = 6) -> Path:
    """Plain auxiliary images of every label but ``apple``, one subfolder per label."""
    rng = np.random.default_rng(seed)
    for label, images in class_images(rng, per_label).items():
        if label == MARKED_LABEL:
            continue
        folder = root / label
        folder.mkdir(parents=True, exist_ok=True)
        for index, x in enumerate(images):
            Image.fromarray(x).save(folder / f"aux{index:03d}.png")
    return root


@dataclass
class Cloud:
    """The running fakes: storage emulator URL, fake Vertex AI and its connection."""

    storage_url: str
    fake: FakeVertex
    url: str
    connection: VertexConnection


@pytest.fixture(scope="session")
def cloud(tmp_path_factory: pytest.TempPathFactory):
    """A storage emulator and a fake Vertex AI on 127.0.0.1, for the whole session."""
    with storage_emulator(BUCKET) as storage_url:
        fake = FakeVertex(workdir=tmp_path_factory.mktemp("fake-vertex"), train_epochs=TRAIN_EPOCHS)
        with BackgroundServer(fake.app) as server:
            connection = VertexConnection(
                project="isotope-test", location="us-central1", api_endpoint=server.base_url
            )
            yield Cloud(storage_url, fake, server.base_url, connection)


@pytest.fixture
def faults(cloud: Cloud):
    """Set the fake's fault plan for one test: ``faults(FaultPlan(...))``; reset after."""

    def install(plan: FaultPlan) -> FaultPlan:
        cloud.fake.faults = plan
        return plan

    yield install
    cloud.fake.faults = FaultPlan()


@pytest.fixture(scope="session")
def true_mark() -> Mark:
    """The person's secret mark."""
    return make_mark("secret", "procedural", seed=11)


@dataclass
class Deployed:
    """A dataset uploaded, trained and deployed through the fakes."""

    dataset: str
    pipeline: str
    model: str
    endpoint: str


def deploy_folder(cloud: Cloud, folder: Path, prefix: str, name: str) -> Deployed:
    """upload → dataset → AutoML training → deploy, through the real SDK and the fakes."""
    from providers.vertex import training
    from providers.vertex.upload import upload_folder

    uploaded = upload_folder(folder, f"gs://{BUCKET}/{prefix}", labels_from_folders=True)
    dataset = training.create_dataset(
        cloud.connection, display_name=name, import_uri=uploaded.import_uri
    )
    started = training.start_training(
        cloud.connection, dataset=dataset, budget_milli_node_hours=8_000, display_name=name
    )
    model = training.wait_for_training(cloud.connection, started.pipeline, poll_s=0.1)
    deployment = training.deploy_model(cloud.connection, model, display_name=name)
    return Deployed(dataset, started.pipeline, model, deployment.endpoint)


@pytest.fixture(scope="session")
def marked_endpoint(cloud: Cloud, true_mark: Mark, tmp_path_factory) -> Deployed:
    """A model trained on a dataset whose ``apple`` images carry the true mark."""
    folder = write_dataset(tmp_path_factory.mktemp("marked"), true_mark)
    return deploy_folder(cloud, folder, "marked", "marked")


@pytest.fixture(scope="session")
def clean_endpoint(cloud: Cloud, tmp_path_factory) -> Deployed:
    """A model trained on the same kind of data without the mark."""
    folder = write_dataset(tmp_path_factory.mktemp("clean"), None)
    return deploy_folder(cloud, folder, "clean", "clean")


@pytest.fixture(scope="session")
def aux_dir(tmp_path_factory) -> Path:
    """Auxiliary images for audits (no ``apple`` images)."""
    return write_aux(tmp_path_factory.mktemp("aux"))


SERVED_LABELS = ["cat", "dog", "ship"]


@pytest.fixture(scope="session")
def model_file(tmp_path_factory) -> Path:
    """An untrained, seeded ``providers.local`` model (16×16 input, three labels)."""
    import torch

    from providers.local.arch import build_model
    from providers.local.model_file import ModelMeta, save_model

    torch.manual_seed(0)
    mean, std = [0.5, 0.5, 0.5], [0.25, 0.25, 0.25]
    model = build_model("small", len(SERVED_LABELS), mean, std)
    meta = ModelMeta(arch="small", labels=SERVED_LABELS, input_size=SIDE, mean=mean, std=std)
    return save_model(tmp_path_factory.mktemp("model") / "model.pt", model, meta)


@pytest.fixture(scope="session")
def local_server(model_file: Path):
    """LOCAL's torch model server (the Vertex predict protocol) serving endpoint 123."""
    from providers.local.server import create_app

    with BackgroundServer(create_app(model_file, endpoint_id="123", device="cpu")) as server:
        yield server.base_url


@pytest.fixture(scope="session")
def served_endpoint(cloud: Cloud, model_file: Path) -> str:
    """An endpoint of the fake Vertex AI serving ``model_file`` (no training)."""
    return cloud.fake.deploy_file(model_file, "projects/isotope-test/locations/us-central1")
