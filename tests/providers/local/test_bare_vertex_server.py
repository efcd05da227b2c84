"""``--provider local`` against a server that speaks only the Vertex REST predict protocol:
no endpoint resource, and no ``/model`` (or one that lists no labels)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from fastapi import FastAPI, Request
from typer.testing import CliRunner

from audit.cli.app import app as cli
from marks.kinds import make_mark
from marks.store import MarkStore
from providers.http.background_server import BackgroundServer
from providers.local.client import FALLBACK_MAX_PREDICTIONS, LocalClassifier
from providers.local.predictor import Predictor
from providers.local.protocol import parse_instances, parse_parameters, prediction
from providers.query import QueryImage

from .conftest import colour_images

LABELS = ["blue", "green", "red"]


class BareServer:
    """A predict-only Vertex REST server for ``model_path``; ``deployed`` names the
    deployed model in each reply, ``info`` (if any) is served at ``/model``."""

    def __init__(self, model_path: Path, *, info: dict | None) -> None:
        self.deployed = "7"
        self.predictor = Predictor(model_path, device="cpu")
        self.app = FastAPI()
        self.app.post("/v1/projects/{p}/locations/{l}/endpoints/{e}:predict")(self.predict)
        if info is not None:
            self.app.get("/model")(lambda: info)

    async def predict(self, p: str, l: str, e: str, request: Request) -> dict:  # noqa: E741
        body = await request.json()
        params = parse_parameters(body.get("parameters"))
        pixels = np.stack([self.predictor.decode(b) for b in parse_instances(body, 256)])
        rows = self.predictor.predict(pixels)
        return {
            "predictions": [prediction(row, self.predictor.labels, params) for row in rows],
            "deployedModelId": self.deployed,
        }


NO_LABELS = {"name": "colours", "version": 3}  # a /model route of another kind of server


@pytest.mark.parametrize("info", [None, NO_LABELS], ids=["no-model-route", "no-label-list"])
def test_labels_and_the_model_come_from_the_predict_replies(tiny_model: Path, info) -> None:
    bare = BareServer(tiny_model, info=info)
    with BackgroundServer(bare.app) as server:
        client = LocalClassifier(server.base_url)
        assert client.labels() is None and client.model_identity() is None
        asked = dict(client.parameters)
        assert asked["maxPredictions"] == FALLBACK_MAX_PREDICTIONS
        x = colour_images(2, seed=5)[0]
        scores = client.classify([QueryImage.from_array(im) for im in x])
        assert client.labels() == LABELS  # learned from a full reply
        assert dict(client.parameters) == asked  # unchanged: the ledger keys stay stable
        assert {s.model for s in scores} == {"deployed=7;model=;version="}
        assert all(sorted(s.values) == LABELS for s in scores)


def test_an_audit_runs_resumes_and_notices_a_new_model(
    tiny_model: Path, colour_dir: Path, tmp_path: Path
) -> None:
    store = MarkStore.open(tmp_path / "store")
    store.add(make_mark("mine", "procedural", seed=4))
    bare = BareServer(tiny_model, info=NO_LABELS)
    with BackgroundServer(bare.app) as server:
        args = [
            "audit", "probability", "--provider", "local", "--target", server.base_url,
            "--mark", "mine", "--label", "red", "--aux", str(colour_dir), "--n", "6",
            "--externals", "9", "--level", "0.1", "--store", str(tmp_path / "store"),
            "--workspace", str(tmp_path / "ws"), "--json",
        ]  # fmt: skip

        def run() -> dict:
            result = CliRunner().invoke(cli, args)
            assert result.exit_code == 0, result.output
            return json.loads(result.stdout)

        first = run()
        pairs = 10 * 6  # (true mark + 9 externals) x 6 images
        assert first["model"] == {
            "identity": "deployed=7;model=;version=",
            "learned_from": "the first reply",
        }
        assert first["queries"]["billed"] == pairs + 1  # and the label probe
        # Resumed: one probe asks which model serves now; the rest is on file.
        again = run()
        assert again["model"]["learned_from"] == "a probe reply"
        assert again["queries"]["billed"] == 1 and again["queries"]["cached"] == pairs
        assert again["p_value"] == pytest.approx(first["p_value"])
        # Another model behind the same URL: nothing of the old one answers.
        bare.deployed = "8"
        changed = run()
        assert changed["model"]["identity"] == "deployed=8;model=;version="
        assert changed["queries"]["billed"] == pairs + 1 and changed["queries"]["cached"] == 0
