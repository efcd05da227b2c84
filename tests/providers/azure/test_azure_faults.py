"""Fault injection: each fault's error type, one retry policy, same answers after retries."""

from __future__ import annotations

import random

import pytest

from fixtures.fake_azure.faults import FaultPlan
from providers.errors import (
    BadReplyError,
    ProviderError,
    RateLimitedError,
    TransientError,
    UnansweredError,
)
from providers.retry import RetryPolicy

TAGS = ("sky", "grass", "sand", "snow")
TIMEOUT = 0.25  # the client's; a slow reply takes longer
DEADLINE = 0.4  # the client's for a whole call; a trickled reply takes longer
SLOW = 0.5
RETRY_AFTER = 0.05
RETRIED_KINDS = ("429_retry_after", "429", "500", "503", "slow", "drop", "malformed_json")


@pytest.mark.parametrize(
    ("kind", "error", "retry_after"),
    [
        ("429_retry_after", RateLimitedError, RETRY_AFTER),
        ("429", RateLimitedError, None),
        ("500", TransientError, None),
        ("503", TransientError, None),
        # Sent, with no usable reply: the service bills them, so budgets count them.
        ("slow", UnansweredError, None),
        ("drop", UnansweredError, None),
        ("malformed_json", UnansweredError, None),
        ("trickle", UnansweredError, None),
    ],
)
def test_each_fault_becomes_its_error_after_exactly_one_request(
    make_tagger, fake, query, kind, error, retry_after
):
    fake.faults = FaultPlan(rate=1.0, kinds=(kind,), slow_s=SLOW, retry_after_s=RETRY_AFTER)
    tagger = make_tagger(timeout=TIMEOUT, deadline_s=DEADLINE)
    with pytest.raises(ProviderError) as caught:
        tagger.classify([query("sky")])
    assert type(caught.value) is error
    assert str(caught.value).startswith(f"azure analyze {tagger.target}: ")
    if isinstance(caught.value, TransientError):
        assert caught.value.retry_after == retry_after
    # One request per call: azure-core's own retries are off, ours are the only ones.
    assert sum(fake.faults.injected.values()) == 1


def test_retries_end_with_the_same_answers_as_without_faults(make_tagger, fake, query):
    tagger = make_tagger(timeout=TIMEOUT)
    images = [query(tag, seed=seed) for seed in range(4) for tag in TAGS]
    clean = tagger.classify(images)
    plan = fake.faults = FaultPlan(
        rate=0.5, kinds=RETRIED_KINDS, seed=6, slow_s=SLOW, retry_after_s=RETRY_AFTER
    )
    waits: list[float] = []
    # No backoff of its own, so every wait is exactly what the service asked for.
    policy = RetryPolicy(
        max_attempts=20, initial_backoff_s=0.0, sleep=waits.append, rng=random.Random(0)
    )
    results = [
        policy.call_counted(tagger.classify, [image], operation="azure classify")
        for image in images
    ]
    assert [r.value[0] for r in results] == clean
    injected = sum(plan.injected.values())
    assert injected >= 4 and set(plan.injected) >= {"429", "429_retry_after"}
    assert sum(r.attempts for r in results) == len(images) + injected
    assert sorted(waits) == sorted(
        [RETRY_AFTER] * plan.injected["429_retry_after"]
        + [0.0] * (injected - plan.injected["429_retry_after"])
    )


def test_a_429_without_retry_after_is_retried_with_backoff(make_tagger, fake, query):
    tagger = make_tagger()
    fake.faults = FaultPlan(rate=1.0, kinds=("429",))
    waits: list[float] = []
    policy = RetryPolicy(max_attempts=3, initial_backoff_s=0.2, sleep=waits.append)
    with pytest.raises(TransientError, match="gave up after 3 attempt"):
        policy.call(tagger.classify, [query("sky")], operation="azure classify")
    assert fake.faults.injected["429"] == 3
    assert len(waits) == 2 and all(0.0 <= w <= 0.4 for w in waits)


def test_a_malformed_reply_is_retried_with_backoff_and_then_answered(make_tagger, fake, query):
    tagger = make_tagger()
    [clean] = tagger.classify([query("sky")])
    fake.faults = FaultPlan(rate=1.0, kinds=("malformed_json",))
    waits: list[float] = []
    policy = RetryPolicy(max_attempts=3, initial_backoff_s=0.2, sleep=waits.append)
    with pytest.raises(TransientError, match=r"gave up after 3 attempt.*not valid JSON"):
        policy.call(tagger.classify, [query("sky")], operation="azure classify")
    assert fake.faults.injected["malformed_json"] == 3
    assert len(waits) == 2 and all(0.0 <= w <= 0.4 for w in waits)
    # Once the garbling stops, the retried request gets the same answer as before.
    fake.faults = FaultPlan(rate=0.5, kinds=("malformed_json",), seed=1)
    again = RetryPolicy(max_attempts=10, initial_backoff_s=0.0, sleep=waits.append)
    assert again.call(tagger.classify, [query("sky")], operation="azure classify") == [clean]


def test_a_reply_of_the_wrong_shape_is_not_retried(make_tagger, fake, query, monkeypatch):
    # Valid JSON that is not an analyze result will not improve when asked again.
    from providers.azure import tagger as tagger_module

    def wrong_shape(reply: object, *, threshold: float | None = None) -> object:
        raise tagger_module.MalformedReplyError("tagsResult.values is missing")

    monkeypatch.setattr(tagger_module, "parse_tags", wrong_shape)
    tagger = make_tagger()
    before = len(fake.served)
    waits: list[float] = []
    policy = RetryPolicy(max_attempts=5, sleep=waits.append)
    with pytest.raises(BadReplyError, match=r"tagsResult\.values is missing"):
        policy.call(tagger.classify, [query("sky")], operation="azure classify")
    assert len(fake.served) == before + 1 and waits == []


def test_the_connection_pool_recovers_after_drops(make_tagger, fake, query):
    tagger = make_tagger()
    fake.faults = FaultPlan(rate=1.0, kinds=("drop",))
    for _ in range(3):
        with pytest.raises(TransientError):
            tagger.classify([query("snow")])
    fake.faults = FaultPlan()
    [scores] = tagger.classify([query("snow")])
    assert "snow" in scores.values
