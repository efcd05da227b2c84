"""Which model answers an endpoint: every reply names it, an audit pins it, a redeployed
model is audited afresh, a model change mid-audit stops the audit, a traffic split is
refused. Through the real SDK, the fake Vertex AI and the local model server."""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import numpy as np
import pytest

from audit.runner.run import run_probability_audit
from audit.spending.budget import Budget
from audit.spending.ledger import Ledger
from audit.spending.model_pin import TOLD
from audit.verifiers.verdict import Verdict
from marks.store import MarkStore
from providers.errors import MixedModelsError, ModelChangedError
from providers.query import QueryImage
from providers.rate_limit import RateLimiter
from providers.vertex.predict import VertexClassifier

from .conftest import ALPHA, MARKED_LABEL, SERVED_LABELS, SIDE

PARENT = "projects/isotope-test/locations/us-central1"
LOCAL_ENDPOINT = f"{PARENT}/endpoints/123"
N_IMAGES = 10
EXTERNALS = 19
OPTIONS = {"n": N_IMAGES, "externals": EXTERNALS, "level": 0.05}
QUERIES = (EXTERNALS + 1) * N_IMAGES + 1  # every (mark, image) pair plus one label probe


def images(count: int, seed: int = 0) -> list[QueryImage]:
    rng = np.random.default_rng(seed)
    return [
        QueryImage.from_array(rng.integers(0, 256, (SIDE, SIDE, 3), dtype=np.uint8))
        for _ in range(count)
    ]


@pytest.fixture(scope="module")
def other_model_file(tmp_path_factory) -> Path:
    """Another untrained model with the same labels: other weights, other answers."""
    import torch

    from providers.local.arch import build_model
    from providers.local.model_file import ModelMeta, save_model

    torch.manual_seed(1)
    mean, std = [0.5, 0.5, 0.5], [0.25, 0.25, 0.25]
    model = build_model("small", len(SERVED_LABELS), mean, std)
    meta = ModelMeta(arch="small", labels=SERVED_LABELS, input_size=SIDE, mean=mean, std=std)
    return save_model(tmp_path_factory.mktemp("other") / "other.pt", model, meta)


def audit(
    classifier: VertexClassifier,
    true_mark,
    aux_dir: Path,
    workspace: Path,
    label: str = "cat",
    report: str = "report",
):
    return run_probability_audit(
        classifier,
        mark=true_mark,
        externals=[],
        label=label,
        aux_dir=aux_dir,
        alpha=ALPHA,
        method="calibrated",
        options=OPTIONS,
        workspace=workspace,
        budget=Budget.unlimited(),
        report_dir=workspace / report,
        limiter=RateLimiter(None),
        # Externals are drawn from a secret kept in the store: the same one each run.
        store=MarkStore.open(workspace.parent / f"{workspace.name}-store"),
    )


def test_every_reply_names_the_model_the_endpoint_says_it_serves(local_server, model_file):
    classifier = VertexClassifier(LOCAL_ENDPOINT, api_endpoint=local_server, timeout=10)
    identity = classifier.model_identity()
    digest = hashlib.sha256(model_file.read_bytes()).hexdigest()
    assert identity is not None and identity.endswith(f";version=sha256:{digest}")
    scores = classifier.classify(images(3))
    assert {s.model for s in scores} == {identity}


def test_a_traffic_split_is_refused_before_any_query(
    cloud, model_file, other_model_file, true_mark, aux_dir, tmp_path
):
    endpoint = cloud.fake.deploy_file(model_file, PARENT)
    first = cloud.fake.resources[endpoint]["deployedModels"][0]["id"]
    cloud.fake.deploy_file(
        other_model_file, PARENT, endpoint=endpoint, traffic={"0": 50, first: 50}
    )
    classifier = VertexClassifier(endpoint, api_endpoint=cloud.url, timeout=10, max_instances=1)
    # The fake routes as the service does: one classify call can mix the two models.
    assert len({s.model for s in classifier.classify(images(30))}) == 2
    with pytest.raises(MixedModelsError, match="2 deployed models") as caught:
        classifier.model_identity()
    assert first in str(caught.value) and "50%" in str(caught.value)
    sent = len(cloud.fake.predict_log)
    with pytest.raises(MixedModelsError):
        audit(classifier, true_mark, aux_dir, tmp_path / "ws")
    assert len(cloud.fake.predict_log) == sent  # refused while planning: nothing sent
    assert not (tmp_path / "ws" / "report").exists()


def test_a_new_model_deployed_with_no_traffic_does_not_mix(cloud, model_file, other_model_file):
    endpoint = cloud.fake.deploy_file(model_file, PARENT)
    first = cloud.fake.resources[endpoint]["deployedModels"][0]["id"]
    cloud.fake.deploy_file(
        other_model_file, PARENT, endpoint=endpoint, traffic={"0": 0, first: 100}
    )
    classifier = VertexClassifier(endpoint, api_endpoint=cloud.url, timeout=10)
    identity = classifier.model_identity()
    assert identity is not None and identity.startswith(f"deployed={first};")
    assert {s.model for s in classifier.classify(images(4))} == {identity}


def test_a_model_change_mid_audit_stops_it_and_a_rerun_audits_the_new_model(
    cloud, model_file, other_model_file, true_mark, aux_dir, tmp_path
):
    endpoint = cloud.fake.deploy_file(model_file, PARENT)

    calls = []

    class Redeployed(VertexClassifier):
        """The owner redeploys another model while the audit runs (before request 5)."""

        def classify(self, batch):
            calls.append(len(batch))
            if len(calls) == 5:
                cloud.fake.redeploy_file(other_model_file, endpoint)
            return super().classify(batch)

    classifier = Redeployed(endpoint, api_endpoint=cloud.url, timeout=10, max_instances=4)
    classifier.max_concurrency = 1
    old = classifier.model_identity()
    workspace = tmp_path / "ws"
    with pytest.raises(ModelChangedError) as caught:
        audit(classifier, true_mark, aux_dir, workspace)
    new = caught.value.answered
    assert caught.value.pinned == old and new != old
    assert old in str(caught.value) and new in str(caught.value)
    assert "run the audit again" in str(caught.value)
    assert not (workspace / "report").exists()  # no verdict from a mix of two models
    ledger = Ledger.in_workspace(workspace)
    assert ledger.models("vertex", endpoint) == {old, new}
    ledger.close()
    with sqlite3.connect(workspace / "ledger.sqlite") as db:
        (answered_by_new,) = db.execute(
            "SELECT COUNT(*) FROM queries WHERE model = ?", (new,)
        ).fetchone()
    assert answered_by_new == calls[4] >= 1  # the batch sent after the redeploy
    # The rerun audits the model serving now: its own replies are reused, model A's never.
    rerun = audit(
        VertexClassifier(endpoint, api_endpoint=cloud.url, timeout=10),
        true_mark,
        aux_dir,
        workspace,
    )
    assert rerun.model is not None and (rerun.model.identity, rerun.model.source) == (new, TOLD)
    assert rerun.counts.cached == answered_by_new  # none of model A's replies answer
    assert rerun.counts.billed + rerun.counts.cached == QUERIES
    assert rerun.to_json()["model"]["identity"] == new


@pytest.mark.slow  # trains the marked and the clean model (shared with the e2e tests)
def test_a_model_redeployed_under_the_same_endpoint_is_audited_afresh(
    cloud, marked_endpoint, clean_endpoint, true_mark, aux_dir, tmp_path
):
    marked = cloud.fake.model_files[marked_endpoint.model]
    clean = cloud.fake.model_files[clean_endpoint.model]
    endpoint = cloud.fake.deploy_file(marked, PARENT, display_name="stable-name")
    workspace = tmp_path / "ws"

    def classifier() -> VertexClassifier:
        return VertexClassifier(endpoint, api_endpoint=cloud.url, timeout=10)

    before = audit(classifier(), true_mark, aux_dir, workspace, MARKED_LABEL)
    assert before.result.verdict is Verdict.DETECTED
    assert before.counts.billed == QUERIES
    deployed = cloud.fake.redeploy_file(clean, endpoint)  # same endpoint, a new deployedModelId
    after = audit(classifier(), true_mark, aux_dir, workspace, MARKED_LABEL, "report-after")
    assert after.counts.billed == QUERIES and after.counts.cached == 0  # nothing of the old
    assert after.result.verdict is Verdict.NOT_DETECTED, after.result.to_json()
    assert before.model is not None and after.model is not None
    assert after.model.identity is not None and after.model.identity.startswith(
        f"deployed={deployed};"
    )
    assert before.model.identity != after.model.identity
    report = (workspace / "report-after" / "report.json").read_text()
    assert after.model.identity in report
    # Resumed on the same model: nothing paid twice, the same verdict.
    again = audit(classifier(), true_mark, aux_dir, workspace, MARKED_LABEL, "report-again")
    assert (again.counts.billed, again.counts.cached) == (0, QUERIES)
    assert again.result.verdict is Verdict.NOT_DETECTED
    assert again.result.p_value == pytest.approx(after.result.p_value)
