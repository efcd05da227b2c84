"""The query ledger: cache, batching, concurrency, budget reservation, retries."""

from __future__ import annotations

import random
import stat
import threading

import pytest

from audit.errors import BudgetExhausted
from audit.spending.budget import Budget
from audit.spending.ledger import Ledger, LedgeredClassifier, query_key
from providers.errors import BadImageError, BadReplyError, RateLimitedError
from providers.retry import RetryPolicy
from providers.scores import Scores


def no_wait_retry() -> RetryPolicy:
    return RetryPolicy(sleep=lambda s: None, rng=random.Random(0))


def test_key_covers_provider_target_model_image_and_canonical_parameters():
    base = query_key("vertex", "e1", "abc", {"a": 1, "b": 2}, model="m1")
    assert base == query_key("vertex", "e1", "abc", {"b": 2, "a": 1}, model="m1")
    others = {
        query_key("azure", "e1", "abc", {"a": 1, "b": 2}, model="m1"),
        query_key("vertex", "e2", "abc", {"a": 1, "b": 2}, model="m1"),
        query_key("vertex", "e1", "abd", {"a": 1, "b": 2}, model="m1"),
        query_key("vertex", "e1", "abc", {"a": 1, "b": 3}, model="m1"),
        query_key("vertex", "e1", "abc", {"a": 1, "b": 2}, model="m2"),
        query_key("vertex", "e1", "abc", {"a": 1, "b": 2}, model=""),
    }
    assert base not in others and len(others) == 6


def test_repeats_are_served_from_the_ledger_across_instances(
    tmp_path, fake_classifier, make_query_images
):
    images = make_query_images(10)
    fake = fake_classifier(max_batch=3)
    ledger = Ledger.in_workspace(tmp_path / "ws")
    first = LedgeredClassifier(fake, ledger, retry=no_wait_retry())
    replies = first.classify(images)
    assert fake.calls == 4  # 10 images in chunks of 3
    assert (first.counts.billed, first.counts.cached, first.counts.attempts) == (10, 0, 4)
    again = first.classify(images[:5])
    assert fake.calls == 4 and first.counts.cached == 5
    assert [r.values for r in again] == [r.values for r in replies[:5]]
    ledger.close()
    # A new process-like instance on the same file pays nothing.
    reopened = Ledger.in_workspace(tmp_path / "ws")
    second = LedgeredClassifier(fake_classifier(), reopened, retry=no_wait_retry())
    assert [r.values for r in second.classify(images)] == [r.values for r in replies]
    assert second.counts.billed == 0 and second.counts.cached == 10
    assert reopened.totals()["queries"] == 10
    mode = stat.S_IMODE((tmp_path / "ws" / "ledger.sqlite").stat().st_mode)
    assert mode & 0o077 == 0
    assert stat.S_IMODE((tmp_path / "ws").stat().st_mode) & 0o077 == 0


def test_duplicates_in_one_call_are_billed_once(tmp_path, fake_classifier, make_query_images):
    image = make_query_images(1)[0]
    fake = fake_classifier()
    ledgered = LedgeredClassifier(fake, Ledger(tmp_path / "l.sqlite"), Budget(1, None, 0.0))
    replies = ledgered.classify([image, image, image])
    assert len(fake.sent) == 1 and len(replies) == 3
    assert (ledgered.counts.billed, ledgered.counts.cached) == (1, 2)


def test_chunks_run_concurrently_within_max_concurrency(
    tmp_path, fake_classifier, make_query_images
):
    fake = fake_classifier(max_batch=2, max_concurrency=3, delay=0.05)
    ledgered = LedgeredClassifier(fake, Ledger(tmp_path / "l.sqlite"))
    ledgered.classify(make_query_images(16))
    assert fake.calls == 8
    assert 2 <= fake.max_in_flight <= 3


def test_budget_is_reserved_before_sending(tmp_path, fake_classifier, make_query_images):
    images = make_query_images(8)
    fake = fake_classifier()
    budget = Budget(None, 0.005, 0.001)  # pays for 5 queries
    ledgered = LedgeredClassifier(fake, Ledger(tmp_path / "l.sqlite"), budget)
    with pytest.raises(BudgetExhausted):
        ledgered.classify(images)
    assert fake.calls == 0 and budget.spent_queries == 0  # nothing sent, nothing spent
    ledgered.classify(images[:5])
    assert ledgered.counts.billed == 5
    assert ledgered.counts.cost_usd == pytest.approx(0.005)
    ledgered.classify(images[:5])  # cached: free even with the budget spent
    with pytest.raises(BudgetExhausted):
        ledgered.classify(images[5:6])


def test_budget_never_exceeded_by_concurrent_callers(tmp_path, fake_classifier, make_query_images):
    images = make_query_images(60)
    fake = fake_classifier(max_batch=3, max_concurrency=4, delay=0.002)
    budget = Budget(40, None, 0.0)
    ledgered = LedgeredClassifier(fake, Ledger(tmp_path / "l.sqlite"), budget)
    exhausted = []

    def caller(offset: int) -> None:
        for start in range(offset, 60, 12):
            try:
                ledgered.classify(images[start : start + 6])
            except BudgetExhausted:
                exhausted.append(start)

    threads = [threading.Thread(target=caller, args=(k * 6,)) for k in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sent = len(fake.sent)
    assert sent <= 40 and ledgered.counts.billed == sent == budget.spent_queries
    assert ledgered.ledger.totals()["queries"] == sent
    assert exhausted  # 60 distinct images cannot fit in 40


def test_rate_limited_call_is_retried_and_attempts_recorded(
    tmp_path, fake_classifier, make_query_images
):
    def fail(call: int) -> None:
        if call == 1:
            raise RateLimitedError("HTTP 429", provider="fake", operation="op", retry_after=0.0)

    fake = fake_classifier(fail=fail)
    ledger = Ledger(tmp_path / "l.sqlite")
    ledgered = LedgeredClassifier(fake, ledger, retry=no_wait_retry())
    ledgered.classify(make_query_images(3))
    assert ledgered.counts.attempts == 2 and ledgered.counts.billed == 3
    assert ledger.totals() == {"queries": 3, "attempts": 6, "cost_usd": 0.0}


def test_failed_chunk_is_refunded_and_finished_chunks_kept(
    tmp_path, fake_classifier, make_query_images
):
    def fail(call: int) -> None:
        if call == 2:
            raise BadImageError("too large", provider="fake", operation="fake classify")

    fake = fake_classifier(max_batch=2, fail=fail)
    budget = Budget(10, None, 0.0)
    ledger = Ledger(tmp_path / "l.sqlite")
    ledgered = LedgeredClassifier(fake, ledger, budget, retry=no_wait_retry())
    with pytest.raises(BadImageError, match="fake classify: too large"):
        ledgered.classify(make_query_images(6))
    assert fake.calls == 2  # fails fast: the third chunk is never sent
    assert ledger.totals()["queries"] == 2 == budget.spent_queries


def test_wrong_number_of_replies_is_a_bad_reply(tmp_path, fake_classifier, make_query_images):
    class Short(fake_classifier):
        def classify(self, images):
            return super().classify(images)[:-1]

    budget = Budget(10, None, 0.0)
    ledgered = LedgeredClassifier(Short(), Ledger(tmp_path / "l.sqlite"), budget)
    with pytest.raises(BadReplyError, match="sent 2 images, got 1 replies"):
        ledgered.classify(make_query_images(2))
    assert budget.spent_queries == 2  # the service answered: the request was paid for


def test_nan_in_a_reply_is_a_bad_reply(tmp_path, fake_classifier, make_query_images):
    fake = fake_classifier(reply=lambda image: Scores({"cat": float("nan"), "dog": 1.0}))
    ledgered = LedgeredClassifier(fake, Ledger(tmp_path / "l.sqlite"))
    with pytest.raises(BadReplyError, match="'cat' is not a finite number: nan"):
        ledgered.classify(make_query_images(1))
    assert ledgered.ledger.totals()["queries"] == 0


def test_every_request_passes_the_rate_limiter(tmp_path, fake_classifier, make_query_images):
    class Counting:
        def __init__(self) -> None:
            self.taken = 0

        def acquire(self, tokens: int = 1) -> float:
            self.taken += tokens
            return 0.0

    def fail(call: int) -> None:
        if call == 1:
            raise RateLimitedError("HTTP 429", provider="fake", operation="op", retry_after=0.0)

    limiter = Counting()
    fake = fake_classifier(max_batch=5, fail=fail)
    ledgered = LedgeredClassifier(
        fake, Ledger(tmp_path / "l.sqlite"), retry=no_wait_retry(), limiter=limiter
    )
    ledgered.classify(make_query_images(10))
    assert limiter.taken == fake.calls == 3  # two chunks, one of them retried
