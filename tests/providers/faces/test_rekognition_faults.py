"""Injected faults reach the adapter as typed errors, once: botocore does not retry, the
project's ``RetryPolicy`` does (with an injected sleep, so no test waits for backoff)."""

from __future__ import annotations

import random
import time

import pytest

from providers.errors import BadReplyError, RateLimitedError, TransientError, UnansweredError
from providers.face_collection import FaceSearch
from providers.faces_local.faults import FaultPlan
from providers.faces_local.server import FaceServer
from providers.rekognition.collection import RekognitionCollection
from providers.retry import RetriesExhaustedError, RetryPolicy

from .conftest import face_pixels, local_collection, png

SEARCH = frozenset({"SearchFacesByImage"})


def _policy(sleeps: list[float], attempts: int = 6) -> RetryPolicy:
    return RetryPolicy(max_attempts=attempts, sleep=sleeps.append, rng=random.Random(0))


@pytest.fixture
def probe(face_ids: list[int]):
    return png(face_pixels(face_ids[0]))


@pytest.mark.parametrize(
    ("fault", "error"),
    [
        ("throttle", RateLimitedError),
        ("throughput", RateLimitedError),
        ("server_error", TransientError),
        ("drop", TransientError),
    ],
)
def test_each_fault_is_one_request_and_a_transient_error(
    server: FaceServer, gallery: RekognitionCollection, probe, fault: str, error: type
) -> None:
    gallery.model_identity()  # described now, so the search is the only request
    server.faults.plan = FaultPlan(**{fault: 1.0}, operations=SEARCH)
    before, earlier = server.faults.requests, server.faults.injected[fault]
    with pytest.raises(error, match="SearchFacesByImage") as raised:
        gallery.search(probe)
    assert server.faults.requests - before == 1  # botocore did not retry
    assert server.faults.injected[fault] - earlier == 1
    if fault == "server_error":
        assert not isinstance(raised.value, RateLimitedError)


def test_botocore_retry_settings_from_the_environment_are_ignored(
    server: FaceServer, probe, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "5")
    monkeypatch.setenv("AWS_RETRY_MODE", "legacy")
    adapter = local_collection(server, "gallery")
    assert adapter._client.meta.config.retries == {"total_max_attempts": 1, "mode": "standard"}
    adapter.model_identity()
    server.faults.plan = FaultPlan(throttle=1.0, operations=SEARCH)
    before = server.faults.requests
    with pytest.raises(RateLimitedError):
        adapter.search(probe)
    assert server.faults.requests - before == 1


def test_throttling_with_backoff_succeeds(
    server: FaceServer, gallery: RekognitionCollection, probe, face_ids: list[int]
) -> None:
    gallery.model_identity()
    server.faults.plan = FaultPlan(throttle=1.0, operations=SEARCH, limit=2)
    sleeps: list[float] = []
    result = _policy(sleeps).call_counted(gallery.search, probe, operation="search")
    assert result.attempts == 3 and len(sleeps) == 2
    assert isinstance(result.value, FaceSearch)
    assert result.value.matches[0].external_id == f"lfw-{face_ids[0]}"


def test_throttling_without_backoff_gives_up(
    server: FaceServer, gallery: RekognitionCollection, probe
) -> None:
    gallery.model_identity()
    server.faults.plan = FaultPlan(throttle=1.0, operations=SEARCH)
    sleeps: list[float] = []
    with pytest.raises(RetriesExhaustedError, match="ThrottlingException"):
        _policy(sleeps, attempts=1).call(gallery.search, probe, operation="search")
    assert sleeps == []
    with pytest.raises(RetriesExhaustedError, match="3 attempt"):
        _policy(sleeps, attempts=3).call(gallery.search, probe, operation="search")
    assert len(sleeps) == 2


def test_dropped_connection_is_retried(
    server: FaceServer, gallery: RekognitionCollection, probe
) -> None:
    gallery.model_identity()
    server.faults.plan = FaultPlan(drop=1.0, operations=SEARCH, limit=1)
    result = _policy([]).call_counted(gallery.search, probe, operation="search")
    assert result.attempts == 2 and isinstance(result.value, FaceSearch)


def test_a_garbled_reply_is_unanswered_and_retried(
    server: FaceServer, gallery: RekognitionCollection, probe
) -> None:
    # A 200 whose body is not JSON was answered (and billed) but carries no reply.
    gallery.model_identity()
    server.faults.plan = FaultPlan(malformed=1.0, operations=SEARCH, limit=1)
    with pytest.raises(UnansweredError, match="HTTP 200 with a body that is not JSON"):
        gallery.search(probe)
    server.faults.plan = FaultPlan(malformed=1.0, operations=SEARCH, limit=1)
    result = _policy([]).call_counted(gallery.search, probe, operation="search")
    assert result.attempts == 2 and isinstance(result.value, FaceSearch)


def test_a_json_reply_of_the_wrong_shape_is_a_bad_reply_and_not_retried(
    gallery: RekognitionCollection, probe, monkeypatch: pytest.MonkeyPatch
) -> None:
    gallery.model_identity()
    real = gallery._client.search_faces_by_image
    monkeypatch.setattr(
        gallery._client,
        "search_faces_by_image",
        lambda **params: {k: v for k, v in real(**params).items() if k != "FaceModelVersion"},
    )
    sleeps: list[float] = []
    with pytest.raises(BadReplyError, match="FaceModelVersion"):
        _policy(sleeps).call(gallery.search, probe, operation="search")
    assert sleeps == []


def test_slow_reply_times_out_as_unanswered(server: FaceServer, probe) -> None:
    adapter = local_collection(server, "gallery", read_timeout_s=0.3)
    adapter.model_identity()
    server.faults.plan = FaultPlan(slow=1.0, slow_s=0.8, operations=SEARCH)
    with pytest.raises(UnansweredError, match="ReadTimeout"):
        adapter.search(probe)


def test_a_trickling_reply_ends_at_the_overall_deadline(server: FaceServer, probe) -> None:
    # Ten pieces over 1.5 s: no read waits past the 0.5 s read timeout, so only the
    # 0.8 s deadline stops it.
    server.faults.plan = FaultPlan(trickle=1.0, slow_s=1.5, operations=SEARCH)
    earlier = server.faults.injected["trickle"]
    patient = local_collection(server, "gallery", read_timeout_s=0.5, deadline_s=5.0)
    patient.model_identity()
    assert isinstance(patient.search(probe), FaceSearch)
    bounded = local_collection(server, "gallery", read_timeout_s=0.5, deadline_s=0.8)
    bounded.model_identity()
    started = time.monotonic()
    with pytest.raises(UnansweredError, match=r"within the call's 0\.8 s deadline"):
        bounded.search(probe)
    assert time.monotonic() - started < 1.3
    assert server.faults.injected["trickle"] - earlier == 2


def test_enroll_stopped_midway_lists_what_is_pending(
    server: FaceServer, collection: RekognitionCollection, face_ids: list[int]
) -> None:
    images = [png(face_pixels(i)) for i in face_ids[:4]]
    names = ["a", "b", "c", "d"]
    server.faults.plan = FaultPlan(throttle=1.0, operations=frozenset({"IndexFaces"}))
    with pytest.raises(RateLimitedError):  # the first call failed: nothing was done
        collection.enroll(images, names)
    server.faults.plan = FaultPlan(throttle=1.0, operations=frozenset({"IndexFaces"}), skip=2)
    partial = collection.enroll(images, names)
    assert [face.external_id for face in partial.indexed] == ["a", "b"]
    assert partial.pending == (2, 3) and isinstance(partial.error, RateLimitedError)
    server.faults.plan = FaultPlan()
    rest = collection.enroll(
        [images[i] for i in partial.pending], [names[i] for i in partial.pending]
    )
    assert [face.external_id for face in rest.indexed] == ["c", "d"]
    assert sorted(face.external_id or "" for face in collection.iter_faces()) == names


def test_fault_plan_is_seeded_and_validated() -> None:
    with pytest.raises(ValueError, match="sum to at most 1"):
        FaultPlan(throttle=0.7, drop=0.5)
    with pytest.raises(ValueError):
        FaultPlan(server_error=-0.1)
    with pytest.raises(ValueError):
        FaultPlan(skip=-1)


def test_fault_sequence_repeats_with_the_seed(server: FaceServer, boto_client) -> None:
    from botocore.exceptions import ClientError

    def run() -> list[str]:
        server.faults.plan = FaultPlan(throttle=0.3, server_error=0.3, seed=7)
        outcomes = []
        for _ in range(12):
            try:
                boto_client.list_collections()
                outcomes.append("ok")
            except ClientError as exc:
                outcomes.append(exc.response["Error"]["Code"])
        return outcomes

    first = run()
    assert first == run()
    assert {"ok", "ThrottlingException", "InternalServerError"} <= set(first)
