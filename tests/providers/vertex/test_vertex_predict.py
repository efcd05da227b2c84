"""``VertexClassifier`` through the real SDK (REST, anonymous, api_endpoint on 127.0.0.1)."""

from __future__ import annotations

import socket
import time

import numpy as np
import pytest

from fixtures.fake_vertex.faults import FaultPlan
from providers.errors import (
    BadReplyError,
    PermanentError,
    RateLimitedError,
    TransientError,
    UnansweredError,
)
from providers.local.predictor import Predictor
from providers.query import QueryImage
from providers.scores import OutputMode
from providers.vertex.predict import DEFAULT_MAX_PREDICTIONS, VertexClassifier

from .conftest import SERVED_LABELS, SIDE

LOCAL_ENDPOINT = "projects/isotope-test/locations/us-central1/endpoints/123"


def images(count: int, side: int = SIDE, seed: int = 0) -> list[QueryImage]:
    rng = np.random.default_rng(seed)
    return [
        QueryImage.from_array(rng.integers(0, 256, (side, side, 3), dtype=np.uint8))
        for _ in range(count)
    ]


def test_local_server_answers_every_label(local_server, model_file):
    classifier = VertexClassifier(LOCAL_ENDPOINT, api_endpoint=local_server, timeout=10)
    queries = images(5)
    scores = classifier.classify(queries)
    assert classifier.target == LOCAL_ENDPOINT
    assert classifier.parameters == {
        "confidenceThreshold": 0.0,
        "maxPredictions": DEFAULT_MAX_PREDICTIONS,
    }
    assert classifier.labels() == sorted(SERVED_LABELS)  # learned from the full reply
    predictor = Predictor(model_file, device="cpu")
    expected = predictor.predict(np.stack([predictor.decode(q.data) for q in queries]))
    for score, row in zip(scores, expected, strict=True):
        assert score.mode is OutputMode.FULL
        assert set(score.values) == set(SERVED_LABELS)
        for index, label in enumerate(predictor.labels):
            assert score.get(label) == pytest.approx(float(row[index]), abs=1e-5)
        assert score.extra["deployed_model_id"]


def test_known_labels_fix_max_predictions(local_server):
    classifier = VertexClassifier(
        "123",
        project="isotope-test",
        api_endpoint=local_server,
        labels=SERVED_LABELS,
    )
    assert classifier.parameters["maxPredictions"] == 3
    assert classifier.target == LOCAL_ENDPOINT
    assert [s.mode for s in classifier.classify(images(2))] == [OutputMode.FULL] * 2


def test_oversized_query_is_downscaled_under_the_limit(local_server):
    # ~3 MB of noise as PNG: the local server refuses bodies over 1.5 MB like Vertex.
    big = QueryImage.from_array(
        np.random.default_rng(1).integers(0, 256, (1000, 1000, 3), dtype=np.uint8)
    )
    assert len(big.data) > 2_000_000
    classifier = VertexClassifier(LOCAL_ENDPOINT, api_endpoint=local_server, timeout=30)
    (score,) = classifier.classify([big])
    assert sum(score.values.values()) == pytest.approx(1.0, abs=1e-4)


def test_unknown_endpoint_is_a_permanent_error_naming_the_operation(local_server):
    classifier = VertexClassifier(
        "projects/isotope-test/locations/us-central1/endpoints/999", api_endpoint=local_server
    )
    with pytest.raises(PermanentError) as caught:
        classifier.classify(images(1))
    assert "vertex predict projects/isotope-test/locations/us-central1/endpoints/999" in str(
        caught.value
    )
    assert not isinstance(caught.value, TransientError)


def test_unreachable_endpoint_fails_fast_and_transient():
    with socket.socket() as sock:  # a port nobody listens on
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    classifier = VertexClassifier(LOCAL_ENDPOINT, api_endpoint=f"http://127.0.0.1:{port}")
    started = time.monotonic()
    with pytest.raises(TransientError, match=f"^vertex predict {LOCAL_ENDPOINT}: ConnectionError"):
        classifier.classify(images(1))
    assert time.monotonic() - started < 10  # no hidden SDK retry (its getter retries 120 s)


def test_requests_carry_many_instances_and_shrink_when_refused(cloud, served_endpoint):
    classifier = VertexClassifier(served_endpoint, api_endpoint=cloud.url, max_instances=8)
    before = len(cloud.fake.predict_log)
    classifier.classify(images(20))
    assert [n for _, n, _ in cloud.fake.predict_log[before:]] == [8, 8, 4]
    cloud.fake.max_instances = 3
    try:
        before = len(cloud.fake.predict_log)
        scores = classifier.classify(images(12, seed=1))
    finally:
        cloud.fake.max_instances = None
    assert len(scores) == 12
    assert classifier.max_batch <= 3  # learned from the 400 "too many instances"


def test_fewer_labels_than_asked_is_read_as_top_k(cloud, served_endpoint):
    cloud.fake.max_labels = 2
    try:
        scores = VertexClassifier(served_endpoint, api_endpoint=cloud.url).classify(images(3))
    finally:
        cloud.fake.max_labels = None
    for score in scores:
        assert score.mode is OutputMode.TOP_K and score.k == 2 and len(score.values) == 2
        absent = (set(SERVED_LABELS) - set(score.values)).pop()
        assert score.rank(absent) == 3


@pytest.mark.parametrize(
    ("kind", "error", "retry_after"),
    [
        ("429_retry_after", RateLimitedError, 0.25),
        ("429", RateLimitedError, None),
        ("503", TransientError, None),
        # Sent, with no usable reply: the prediction may have been made, and billed.
        ("slow", UnansweredError, None),
        ("drop", UnansweredError, None),
        ("malformed_json", UnansweredError, None),
        ("trickle", UnansweredError, None),
    ],
)
def test_each_fault_is_typed_for_the_retry_policy(
    cloud, served_endpoint, faults, kind, error, retry_after
):
    classifier = VertexClassifier(
        served_endpoint, api_endpoint=cloud.url, timeout=0.4, deadline_s=0.6
    )
    classifier.model_identity()  # the endpoint resource first: predict is the only call
    faults(FaultPlan(rate=1.0, kinds=(kind,), slow_s=1.0, retry_after_s=0.25))
    with pytest.raises(error) as caught:
        classifier.classify(images(1))
    assert type(caught.value) is error
    assert caught.value.retry_after == retry_after
    assert caught.value.operation == f"vertex predict {served_endpoint}"
    assert str(caught.value).startswith(f"vertex predict {served_endpoint}: ")


def test_bad_predictions_are_bad_replies():
    classifier = VertexClassifier(LOCAL_ENDPOINT, labels=SERVED_LABELS)
    extra: dict = {}
    good = {"displayNames": ["cat"], "confidences": [0.9]}
    assert classifier._parse(good, extra, "m", operation="op").mode is OutputMode.TOP_K
    for bad in (
        ["not", "an", "object"],
        {"displayNames": ["cat"]},
        {"displayNames": ["cat", "dog"], "confidences": [0.5]},
        {"displayNames": ["cat", "cat"], "confidences": [0.5, 0.5]},
        {"displayNames": ["cat"], "confidences": ["high"]},
        {"displayNames": ["cat"], "confidences": [1.5]},
        {"displayNames": ["horse"], "confidences": [0.5]},
        {"displayNames": [], "confidences": []},
    ):
        with pytest.raises(BadReplyError, match=r"^op: "):
            classifier._parse(bad, extra, None, operation="op")


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("projects/p/locations/l/models/1", "not an endpoint resource name"),
        ("12/34", "not an endpoint ID"),
        ("123", "bare ID"),
    ],
)
def test_bad_endpoint_names_are_refused(name, message):
    with pytest.raises(ValueError, match=message):
        VertexClassifier(name)


def test_grpc_cannot_reach_a_plain_http_endpoint():
    with pytest.raises(ValueError, match="--transport rest"):
        VertexClassifier(LOCAL_ENDPOINT, api_endpoint="http://127.0.0.1:1", transport="grpc")
