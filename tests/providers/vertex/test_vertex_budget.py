"""Through the fake Vertex AI: every call has an overall deadline, and every predict
request that was sent counts against the budget whether or not its reply arrived.

A reply slower than the timeout, a connection dropped mid-reply, a 200 whose body is
not JSON and a reply trickling past the deadline were all sent: the service may have
run (and billed) the prediction. A 429 or a 503 was refused, and is not billed.
"""

from __future__ import annotations

import random
import time

import numpy as np
import pytest

from audit.errors import BudgetExhausted
from audit.spending.budget import Budget
from audit.spending.ledger import Ledger, LedgeredClassifier
from fixtures.fake_vertex.faults import FaultPlan
from providers.errors import ProviderError, UnansweredError
from providers.query import QueryImage
from providers.retry import RetryPolicy
from providers.vertex.predict import VertexClassifier

from .conftest import SIDE

UNANSWERED = ("slow", "drop", "malformed_json", "trickle")
REFUSED = ("429", "503")


def images(count: int, seed: int) -> list[QueryImage]:
    rng = np.random.default_rng(seed)
    return [
        QueryImage.from_array(rng.integers(0, 256, (SIDE, SIDE, 3), dtype=np.uint8))
        for _ in range(count)
    ]


def classifier(cloud, endpoint: str, *, timeout: float, deadline_s: float) -> VertexClassifier:
    made = VertexClassifier(
        endpoint, api_endpoint=cloud.url, timeout=timeout, deadline_s=deadline_s, max_instances=1
    )
    made.model_identity()  # the endpoint resource first: predicts are the only calls after
    return made


def ledgered(made: VertexClassifier, budget: Budget, workspace) -> LedgeredClassifier:
    retry = RetryPolicy(max_attempts=40, sleep=lambda _: None, rng=random.Random(0))
    return LedgeredClassifier(made, Ledger.in_workspace(workspace), budget, retry=retry)


def test_a_trickling_reply_ends_at_the_overall_deadline(cloud, served_endpoint, faults):
    # Ten pieces over 1.5 s: no read waits past the 0.5 s timeout, so only a deadline
    # for the whole call stops it.
    patient = classifier(cloud, served_endpoint, timeout=0.5, deadline_s=10.0)
    bounded = classifier(cloud, served_endpoint, timeout=0.5, deadline_s=0.8)
    faults(FaultPlan(rate=1.0, kinds=("trickle",), slow_s=1.5))
    assert len(patient.classify(images(1, seed=1))) == 1
    started = time.monotonic()
    with pytest.raises(UnansweredError, match=r"within the call's 0\.8 s deadline"):
        bounded.classify(images(1, seed=1))
    assert time.monotonic() - started < 1.3


def test_the_budget_counts_every_request_that_was_sent(cloud, served_endpoint, faults, tmp_path):
    made = classifier(cloud, served_endpoint, timeout=0.4, deadline_s=0.6)
    plan = faults(
        FaultPlan(rate=0.5, kinds=UNANSWERED + REFUSED, seed=3, slow_s=1.0, retry_after_s=0.01)
    )
    budget = Budget(None, None, price_per_query=0.001)
    audit = ledgered(made, budget, tmp_path)
    before = len(cloud.fake.predict_log)
    scores = audit.classify(images(8, seed=2))
    sent = [fault for *_, fault in cloud.fake.predict_log[before:]]
    without_reply = sum(fault in UNANSWERED for fault in sent)
    refused = sum(fault in REFUSED for fault in sent)
    assert len(scores) == 8 and audit.counts.billed == 8
    assert set(plan.injected) == set(UNANSWERED + REFUSED)  # every kind happened
    assert without_reply == sum(plan.injected[k] for k in UNANSWERED)
    # A clean reply slowed past the timeout by a busy machine is unanswered too.
    assert audit.counts.unanswered >= without_reply
    assert budget.spent_queries == 8 + audit.counts.unanswered == len(sent) - refused


def test_a_budget_stops_resending_unanswered_requests(cloud, served_endpoint, faults, tmp_path):
    made = classifier(cloud, served_endpoint, timeout=0.4, deadline_s=0.6)
    faults(FaultPlan(rate=1.0, kinds=("trickle",), slow_s=1.0))
    budget = Budget(4, None, price_per_query=0.0)
    audit = ledgered(made, budget, tmp_path)
    before = len(cloud.fake.predict_log)
    with pytest.raises((BudgetExhausted, ProviderError)):
        audit.classify(images(2, seed=3))
    # Each was sent, trickled past its deadline and resent until the budget ran out.
    assert len(cloud.fake.predict_log) - before == budget.spent_queries == 4
    assert audit.counts.unanswered == 4
