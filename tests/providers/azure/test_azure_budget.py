"""Through the fake Image Analysis: every call has an overall deadline, and every call
that was sent counts against the budget whether or not its reply arrived.

A real service bills a reply the client gave up waiting for, and a 200 whose body came
out garbled: a slow reply, a dropped connection, a garbled body and a reply trickling
past the deadline all count. A 429, a 500 or a 503 was refused, and is not billed.
"""

from __future__ import annotations

import random
import time

import pytest

from audit.errors import BudgetExhausted
from audit.spending.budget import Budget
from audit.spending.ledger import Ledger, LedgeredClassifier
from fixtures.fake_azure.faults import FaultPlan
from providers.errors import ProviderError, UnansweredError
from providers.retry import RetryPolicy

UNANSWERED = ("slow", "drop", "malformed_json", "trickle")
REFUSED = ("429", "500", "503")
TAGS = ("sky", "grass", "sand", "snow")


def ledgered(tagger, budget: Budget, workspace) -> LedgeredClassifier:
    retry = RetryPolicy(max_attempts=40, sleep=lambda _: None, rng=random.Random(0))
    return LedgeredClassifier(tagger, Ledger.in_workspace(workspace), budget, retry=retry)


def test_a_trickling_reply_ends_at_the_overall_deadline(make_tagger, fake, query):
    # Ten pieces over 1.5 s: no read waits past the 0.5 s timeout, so only a deadline
    # for the whole call stops it.
    fake.faults = FaultPlan(rate=1.0, kinds=("trickle",), slow_s=1.5)
    patient = make_tagger(timeout=0.5, deadline_s=10.0)
    assert "sky" in patient.classify([query("sky")])[0].values
    bounded = make_tagger(timeout=0.5, deadline_s=0.8)
    started = time.monotonic()
    with pytest.raises(UnansweredError, match=r"within the call's 0\.8 s deadline"):
        bounded.classify([query("sky")])
    assert time.monotonic() - started < 1.3


def test_the_budget_counts_every_call_that_was_sent(make_tagger, fake, query, tmp_path):
    tagger = make_tagger(timeout=0.3, deadline_s=0.5)
    plan = fake.faults = FaultPlan(
        rate=0.5, kinds=UNANSWERED + REFUSED, seed=30, slow_s=0.8, retry_after_s=0.01
    )
    budget = Budget(None, None, price_per_query=0.001)
    audit = ledgered(tagger, budget, tmp_path)
    before = len(fake.served)
    images = [query(tag, seed=seed) for seed in range(2) for tag in TAGS]
    scores = audit.classify(images)
    assert fake.wait_idle()  # slow replies outlive the client's patience
    sent = [served.fault for served in fake.served[before:]]
    without_reply = sum(fault in UNANSWERED for fault in sent)
    refused = sum(fault in REFUSED for fault in sent)
    assert len(scores) == len(images) and audit.counts.billed == len(images)
    assert set(plan.injected) == set(UNANSWERED + REFUSED)  # every kind happened
    assert without_reply == sum(plan.injected[k] for k in UNANSWERED)
    # A clean reply slowed past the timeout by a busy machine is unanswered too.
    assert audit.counts.unanswered >= without_reply
    assert budget.spent_queries == len(images) + audit.counts.unanswered == len(sent) - refused


def test_a_budget_stops_resending_unanswered_calls(make_tagger, fake, query, tmp_path):
    tagger = make_tagger(timeout=0.3, deadline_s=0.5)
    fake.faults = FaultPlan(rate=1.0, kinds=("malformed_json",))
    budget = Budget(4, None, price_per_query=0.0)
    audit = ledgered(tagger, budget, tmp_path)
    before = len(fake.served)
    with pytest.raises((BudgetExhausted, ProviderError)):
        audit.classify([query("sand"), query("snow")])
    # Each garbled reply was billed, and asked again until the budget ran out.
    assert len(fake.served) - before == budget.spent_queries == 4
    assert audit.counts.unanswered == 4
