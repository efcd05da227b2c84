"""The Vertex-protocol server and the ``LocalClassifier`` client, over real loopback HTTP."""

from __future__ import annotations

import base64
import hashlib
import io
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pytest
import requests
from fastapi import FastAPI
from fastapi.responses import JSONResponse, PlainTextResponse
from PIL import Image

from providers.errors import (
    BadImageError,
    BadReplyError,
    PermanentError,
    RateLimitedError,
    TransientError,
    UnansweredError,
)
from providers.http.background_server import BackgroundServer
from providers.local.batcher import MicroBatcher
from providers.local.client import LocalClassifier, PayloadTooLargeError
from providers.local.predictor import Predictor
from providers.local.server import serve_in_background
from providers.query import QueryImage
from providers.scores import OutputMode

from .conftest import colour_images

RESOURCE = "/v1/projects/p1/locations/us-central1/endpoints/local"


def _png(pixels: np.ndarray) -> str:
    buf = io.BytesIO()
    Image.fromarray(pixels, "RGB").save(buf, "PNG")
    return base64.b64encode(buf.getvalue()).decode()


def _predict(base_url: str, instances: list, parameters: dict | None = None, **kw):
    body: dict = {"instances": instances}
    if parameters is not None:
        body["parameters"] = parameters
    return requests.post(f"{base_url}{RESOURCE}:predict", json=body, timeout=30, **kw)


@pytest.fixture(scope="module")
def images() -> np.ndarray:
    return colour_images(4, seed=9)[0]


def test_endpoint_resource_and_info(server: BackgroundServer) -> None:
    reply = requests.get(f"{server.base_url}{RESOURCE}", timeout=10)
    assert reply.status_code == 200
    body = reply.json()
    assert body["name"] == "projects/p1/locations/us-central1/endpoints/local"
    assert body["createTime"].endswith("Z") and body["deployedModels"][0]["id"].isdigit()
    assert requests.get(f"{server.base_url}/health", timeout=10).json() == {"status": "ok"}
    info = requests.get(f"{server.base_url}/model", timeout=10).json()
    assert info["labels"] == ["blue", "green", "red"] and info["inputSize"] == 16
    missing = requests.get(f"{server.base_url}/v1/projects/p/locations/l/endpoints/x", timeout=10)
    assert missing.status_code == 404 and missing.json()["error"]["status"] == "NOT_FOUND"


def test_predict_sorted_full_distribution(
    server: BackgroundServer, images: np.ndarray, tiny_model: Path
) -> None:
    reply = _predict(
        server.base_url,
        [{"content": _png(im), "mimeType": "image/png"} for im in images[:3]],
        {"confidenceThreshold": 0.0, "maxPredictions": 3.0},  # floats, as the SDK sends
    )
    assert reply.status_code == 200, reply.text
    body = reply.json()
    # The version is the model file's digest, in every reply, the resource and /model.
    version = "sha256:" + hashlib.sha256(tiny_model.read_bytes()).hexdigest()
    assert body["deployedModelId"].isdigit() and body["modelVersionId"] == version
    resource = requests.get(f"{server.base_url}{RESOURCE}", timeout=10).json()
    assert resource["deployedModels"][0]["modelVersionId"] == version
    assert requests.get(f"{server.base_url}/model", timeout=10).json()["modelVersionId"] == version
    assert body["model"].startswith("projects/p1/locations/us-central1/models/")
    for pred in body["predictions"]:
        conf = pred["confidences"]
        assert len(conf) == 3 and conf == sorted(conf, reverse=True)
        assert abs(sum(conf) - 1) < 1e-4
        assert sorted(pred["displayNames"]) == ["blue", "green", "red"]
        assert pred["ids"] == [str(["blue", "green", "red"].index(n)) for n in pred["displayNames"]]
    # Red images (the first block of colour_images) come out red on top.
    assert body["predictions"][0]["displayNames"][0] == "red"


def test_threshold_and_max_predictions(server: BackgroundServer, images: np.ndarray) -> None:
    inst = [{"content": _png(images[0])}]
    top1 = _predict(server.base_url, inst, {"maxPredictions": 1.0}).json()["predictions"][0]
    assert len(top1["displayNames"]) == 1
    default = _predict(server.base_url, inst).json()["predictions"][0]
    assert len(default["displayNames"]) == 3  # default K = 10 > 3 labels
    cut = 0.5 * (default["confidences"][0] + default["confidences"][1])
    above = _predict(server.base_url, inst, {"confidenceThreshold": cut}).json()
    assert above["predictions"][0]["confidences"] == default["confidences"][:1]
    for bad in ({"maxPredictions": 2.5}, {"maxPredictions": 0}, {"confidenceThreshold": 1.5}):
        reply = _predict(server.base_url, inst, bad)
        assert reply.status_code == 400 and "parameters." in reply.json()["error"]["message"]


def test_bad_image_names_its_index(server: BackgroundServer, images: np.ndarray) -> None:
    inst = [{"content": _png(images[0])}, {"content": base64.b64encode(b"junk").decode()}]
    reply = _predict(server.base_url, inst)
    assert reply.status_code == 400
    assert reply.json()["error"]["message"].startswith("instances[1]: cannot decode image")
    assert "instances[0]" in _predict(server.base_url, [{"content": "%%%"}]).text
    assert _predict(server.base_url, []).status_code == 400
    # A small PNG that would inflate to 30 M pixels is refused before decoding.
    buf = io.BytesIO()
    Image.new("L", (6000, 5000)).save(buf, "PNG")
    bomb = _predict(server.base_url, [{"content": base64.b64encode(buf.getvalue()).decode()}])
    assert bomb.status_code == 400 and "too large" in bomb.json()["error"]["message"]
    client = LocalClassifier(server.base_url)
    with pytest.raises(BadImageError, match=r"instances\[1\]"):
        client.classify([QueryImage.from_array(images[0]), QueryImage(b"junk", "image/png")])


def test_client_matches_the_model(server: BackgroundServer, tiny_model: Path) -> None:
    x = colour_images(10, seed=2)[0]
    client = LocalClassifier(server.base_url, max_batch=7, max_concurrency=3)
    assert client.labels() == ["blue", "green", "red"]
    assert (
        client.target
        == f"{server.base_url}/v1/projects/local/locations/us-central1/endpoints/local"
    )
    scores = client.classify([QueryImage.from_array(im, base=str(i)) for i, im in enumerate(x)])
    # Every reply names the model file that answered, as model_identity does for free.
    version = "sha256:" + hashlib.sha256(tiny_model.read_bytes()).hexdigest()
    identity = client.model_identity()
    assert identity is not None and identity.endswith(f";version={version}")
    assert {s.model for s in scores} == {identity}
    direct = Predictor(tiny_model, device="cpu").predict(x)
    assert len(scores) == 30 and all(s.mode is OutputMode.FULL for s in scores)
    got = np.array([[s.get(n) for n in ["blue", "green", "red"]] for s in scores])
    np.testing.assert_allclose(got, direct, atol=1e-5)


def test_client_top_k_and_threshold(server: BackgroundServer, images: np.ndarray) -> None:
    queries = [QueryImage.from_array(im) for im in images[:4]]
    top = LocalClassifier(server.base_url, output="top_k", k=2).classify(queries)
    assert all(len(s.values) == 2 and s.k == 2 and s.mode is OutputMode.TOP_K for s in top)
    assert top[0].rank("red") == 1
    thr = LocalClassifier(server.base_url, output="threshold", threshold=0.5)
    assert thr.parameters["confidenceThreshold"] == 0.5
    assert all(all(v >= 0.5 for v in s.values.values()) for s in thr.classify(queries))
    with pytest.raises(ValueError, match="k >= 1"):
        LocalClassifier(server.base_url, output="top_k")


def test_concurrent_requests_all_answered(server: BackgroundServer) -> None:
    x = colour_images(8, seed=3)[0]
    client = LocalClassifier(server.base_url, max_batch=3)
    expected = [s.values for s in client.classify([QueryImage.from_array(im) for im in x])]

    def one(i: int) -> dict:
        return dict(client.classify([QueryImage.from_array(x[i])])[0].values)

    with ThreadPoolExecutor(8) as pool:
        got = list(pool.map(one, range(len(x))))
    for a, b in zip(got, expected, strict=True):
        assert a.keys() == b.keys()
        np.testing.assert_allclose(list(a.values()), [b[k] for k in a], atol=1e-5)


def test_micro_batcher_merges_waiting_requests() -> None:
    started = threading.Event()
    release = threading.Event()
    sizes: list[int] = []

    def fn(batch: np.ndarray) -> np.ndarray:
        sizes.append(len(batch))
        started.set()
        release.wait(5)
        return batch.reshape(len(batch), -1).sum(1, keepdims=True)

    batcher = MicroBatcher(fn, max_images=100)
    batcher.start()
    first = batcher.submit(np.ones((2, 1, 1, 3)))
    started.wait(5)
    later = [batcher.submit(np.full((k, 1, 1, 3), k)) for k in (1, 2, 3)]
    time.sleep(0.05)
    release.set()
    assert first.result(5).ravel().tolist() == [3, 3]
    assert [f.result(5).ravel().tolist() for f in later] == [[3], [6, 6], [9, 9, 9]]
    batcher.close()
    assert sizes == [2, 6]  # the three waiting requests ran as one batch
    assert batcher.batches == 2


def test_body_limit_413_and_client_split(tiny_model: Path) -> None:
    x = colour_images(4, seed=4)[0]
    with serve_in_background(tiny_model, device="cpu", max_body_bytes=4000) as small:
        too_big = _predict(small.base_url, [{"content": _png(im)} for im in x])
        assert too_big.status_code == 413
        assert "limit" in too_big.json()["error"]["message"]
        client = LocalClassifier(small.base_url, max_batch=12)
        # The client halves a batch the server finds too large.
        assert len(client.classify([QueryImage.from_array(im) for im in x])) == 12
        huge = np.random.default_rng(0).integers(0, 255, (64, 64, 3), dtype=np.uint8)
        with pytest.raises(PayloadTooLargeError, match="413"):
            client.classify([QueryImage.from_array(huge)])


def test_api_key(tiny_model: Path) -> None:
    with serve_in_background(tiny_model, device="cpu", api_key="s3cret") as guarded:
        assert requests.get(f"{guarded.base_url}/health", timeout=10).status_code == 200
        assert requests.get(f"{guarded.base_url}{RESOURCE}", timeout=10).status_code == 401
        wrong = {"x-goog-api-key": "nope"}
        assert (
            requests.get(f"{guarded.base_url}/model", headers=wrong, timeout=10).status_code == 401
        )
        bearer = {"Authorization": "Bearer s3cret"}
        assert requests.get(f"{guarded.base_url}/model", headers=bearer, timeout=10).ok
        query = [QueryImage.from_array(colour_images(1, seed=0)[0][0])]
        with pytest.raises(PermanentError, match="401"):
            LocalClassifier(guarded.base_url).classify(query)
        assert len(LocalClassifier(guarded.base_url, api_key="s3cret").classify(query)) == 1


def _fake(status: int, body: str, headers: dict | None = None) -> FastAPI:
    app = FastAPI()

    @app.get("/model")
    def info():
        return {"labels": ["a", "b"]}

    @app.post(RESOURCE.replace("p1", "local") + ":predict")
    def predict():
        if status == 200:
            return PlainTextResponse(body)
        return JSONResponse({"error": {"message": body}}, status, headers=headers)

    return app


@pytest.mark.parametrize(
    ("status", "body", "headers", "error", "retry_after"),
    [
        (429, "slow down", {"Retry-After": "7"}, RateLimitedError, 7.0),
        (503, "busy", None, TransientError, None),
        (404, "no endpoint", None, PermanentError, None),
        (200, "{not json", None, UnansweredError, None),  # garbled on the way: asked again
        (200, '{"predictions": []}', None, BadReplyError, None),
    ],
)
def test_client_error_types(status, body, headers, error, retry_after) -> None:
    query = [QueryImage.from_array(np.zeros((4, 4, 3), np.uint8))]
    with BackgroundServer(_fake(status, body, headers)) as fake:
        with pytest.raises(error) as caught:
            LocalClassifier(fake.base_url).classify(query)
        assert (
            not isinstance(caught.value, TransientError) or caught.value.retry_after == retry_after
        )


def test_connection_refused_is_transient() -> None:
    closed = BackgroundServer(FastAPI())
    url = closed.base_url
    closed.stop()  # never started: the port is released and nothing listens
    with pytest.raises(TransientError, match="ConnectionError"):
        LocalClassifier(url, timeout_s=2).classify(
            [QueryImage.from_array(np.zeros((4, 4, 3), np.uint8))]
        )
