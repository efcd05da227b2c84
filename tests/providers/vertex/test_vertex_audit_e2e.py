"""upload → dataset → train → deploy → audit, offline, through the real SDK and the fakes.

The verdict must be right for a marked and a clean dataset, and stay the same when
20% of predict requests fail (429 with and without Retry-After, 503, slow replies,
dropped connections, malformed JSON): no query billed twice, the budget never exceeded.
"""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest

from audit.runner.run import run_probability_audit
from audit.spending.budget import Budget
from audit.spending.ledger import Ledger
from audit.verifiers.verdict import Verdict
from fixtures.fake_vertex.faults import FAULT_KINDS, FaultPlan
from marks.store import MarkStore
from providers.rate_limit import RateLimiter
from providers.retry import RetryPolicy
from providers.vertex.predict import VertexClassifier

from .conftest import ALPHA, MARKED_LABEL

pytestmark = pytest.mark.slow  # trains two tiny models (a few seconds each)

N_IMAGES = 10
EXTERNALS = 19
OPTIONS = {"n": N_IMAGES, "externals": EXTERNALS, "level": 0.05}
QUERIES = (EXTERNALS + 1) * N_IMAGES + 1  # every (mark, image) pair plus one label probe


def audit(cloud, endpoint: str, true_mark, aux_dir: Path, workspace: Path, **kwargs):
    classifier = VertexClassifier(
        endpoint,
        api_endpoint=cloud.url,
        timeout=kwargs.pop("timeout", 10),
        max_instances=kwargs.pop("max_instances", 8),
    )
    budget = kwargs.pop("budget", Budget.unlimited())
    outcome = run_probability_audit(
        classifier,
        mark=true_mark,
        externals=[],
        label=MARKED_LABEL,
        aux_dir=aux_dir,
        alpha=ALPHA,
        method="calibrated",
        options=OPTIONS,
        workspace=workspace,
        budget=budget,
        report_dir=workspace / "report",
        limiter=RateLimiter(None),  # the fake has no quota; Vertex's default would pace us
        **kwargs,
    )
    return outcome, budget


def test_marked_dataset_is_detected(cloud, marked_endpoint, true_mark, aux_dir, tmp_path):
    outcome, _ = audit(cloud, marked_endpoint.endpoint, true_mark, aux_dir, tmp_path)
    assert outcome.result.verdict is Verdict.DETECTED, outcome.result.to_json()
    assert outcome.result.p_value <= OPTIONS["level"]  # detected iff p ≤ level
    assert outcome.counts.billed == QUERIES
    assert (tmp_path / "report").is_dir()


def test_clean_dataset_is_not_detected(cloud, clean_endpoint, true_mark, aux_dir, tmp_path):
    outcome, _ = audit(cloud, clean_endpoint.endpoint, true_mark, aux_dir, tmp_path)
    assert outcome.result.verdict is Verdict.NOT_DETECTED, outcome.result.to_json()
    assert outcome.result.p_value > 0.05


def test_faults_change_nothing_but_the_retries(
    cloud, marked_endpoint, true_mark, aux_dir, tmp_path, faults
):
    store = MarkStore.open(tmp_path / "store")  # both audits: the same secret externals
    calm, _ = audit(
        cloud, marked_endpoint.endpoint, true_mark, aux_dir, tmp_path / "calm", store=store
    )
    plan = faults(FaultPlan(rate=0.2, seed=8, slow_s=1.2, retry_after_s=0.05))
    sent_before = len(cloud.fake.predict_log)
    retry = RetryPolicy(
        max_attempts=12, initial_backoff_s=0.01, max_backoff_s=0.05, rng=random.Random(0)
    )
    # Room for the resends: a request sent without a usable reply was paid for too.
    budget = Budget(2 * QUERIES, None, price_per_query=0.001)
    stormy, budget = audit(
        cloud,
        marked_endpoint.endpoint,
        true_mark,
        aux_dir,
        tmp_path / "stormy",
        timeout=0.6,
        max_instances=2,  # more requests, so every kind of fault shows up
        budget=budget,
        retry=retry,
        store=store,
    )
    requests = cloud.fake.predict_log[sent_before:]
    assert sum(1 for *_, fault in requests if fault) == sum(plan.injected.values()) > 0
    assert set(plan.injected) == set(FAULT_KINDS)  # every kind happened at least once
    # The same verdict and evidence as without faults.
    assert stormy.result.verdict is calm.result.verdict is Verdict.DETECTED
    assert stormy.result.p_value == pytest.approx(calm.result.p_value, rel=1e-4)
    # No answer paid for twice; the budget counts every request sent without a usable
    # reply (slow, dropped, garbled), each instance of it, and nothing refused (429, 503).
    ledger = Ledger.in_workspace(tmp_path / "stormy")
    totals = ledger.totals()
    ledger.close()
    assert stormy.counts.billed == totals["queries"] == QUERIES
    unanswered = sum(n for _, n, fault in requests if fault in ("slow", "drop", "malformed_json"))
    # On a busy machine a clean reply can outlast the 0.6 s timeout too: it was sent,
    # got no reply in time, and is counted like the injected ones.
    assert stormy.counts.unanswered >= unanswered > 0
    sent = sum(n for _, n, fault in requests if fault not in ("429_retry_after", "429", "503"))
    assert budget.spent_queries == QUERIES + stormy.counts.unanswered == sent
    assert budget.spent_queries <= budget.capacity()
    assert stormy.counts.attempts > calm.counts.attempts


def test_the_audit_command_reaches_the_endpoint(
    cloud, marked_endpoint, true_mark, aux_dir, tmp_path
):
    from typer.testing import CliRunner

    from audit.cli.app import app
    from marks.store import MarkStore

    MarkStore.open(tmp_path / "store").add(true_mark)
    args = [
        "audit", "probability", "--provider", "vertex", "--target", marked_endpoint.endpoint,
        "--api-endpoint", cloud.url, "--mark", true_mark.name, "--label", MARKED_LABEL,
        "--aux", str(aux_dir), "--alpha", str(ALPHA), "--n", str(N_IMAGES),
        "--externals", str(EXTERNALS), "--level", str(OPTIONS["level"]),
        "--store", str(tmp_path / "store"), "--workspace", str(tmp_path / "ws"), "--json",
    ]  # fmt: skip
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["verdict"] == "detected"
    assert data["queries"]["billed"] == QUERIES
