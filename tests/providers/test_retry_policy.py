"""The retry policy: what it retries, how long it waits, when it gives up."""

from __future__ import annotations

import random

import pytest

from providers.errors import BadImageError, PermanentError, RateLimitedError, TransientError
from providers.retry import RetriesExhaustedError, RetryPolicy


class FakeTime:
    """A clock that only moves when the policy sleeps."""

    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def clock(self) -> float:
        return self.now


def policy(fake: FakeTime, **kw: object) -> RetryPolicy:
    return RetryPolicy(sleep=fake.sleep, clock=fake.clock, rng=random.Random(1), **kw)


def script(*outcomes: object):
    """A function raising or returning each outcome in turn; counts calls."""
    calls = []

    def fn() -> object:
        outcome = outcomes[len(calls)]
        calls.append(outcome)
        if isinstance(outcome, BaseException):
            raise outcome
        return outcome

    return fn, calls


def throttled(retry_after: float | None = None) -> RateLimitedError:
    return RateLimitedError(
        "HTTP 429", provider="x", operation="x predict", retry_after=retry_after
    )


def server_error() -> TransientError:
    return TransientError("HTTP 503", provider="x", operation="x predict")


def test_429_with_retry_after_waits_at_least_that_long():
    t = FakeTime()
    fn, calls = script(throttled(7.0), "ok")
    result = policy(t).call_counted(fn, operation="x predict")
    assert result.value == "ok" and result.attempts == 2 and len(calls) == 2
    assert t.sleeps == [7.0]  # backoff for attempt 1 is at most 0.5 s, so Retry-After wins


def test_429_without_retry_after_backs_off_exponentially_with_jitter():
    t = FakeTime()
    fn, _ = script(throttled(), throttled(), throttled(), throttled(), "ok")
    result = policy(t, initial_backoff_s=1.0, max_backoff_s=5.0).call_counted(fn, operation="op")
    assert result.attempts == 5
    caps = [1.0, 2.0, 4.0, 5.0]
    assert len(t.sleeps) == 4
    for slept, cap in zip(t.sleeps, caps, strict=True):
        assert 0.0 <= slept <= cap
    assert len(set(t.sleeps)) == 4  # jittered, not a fixed schedule


def test_5xx_gives_up_after_max_attempts_naming_the_operation():
    t = FakeTime()
    fn, calls = script(*[server_error()] * 3)
    with pytest.raises(RetriesExhaustedError) as info:
        policy(t, max_attempts=3).call(fn, operation="vertex predict e1")
    assert len(calls) == 3 and len(t.sleeps) == 2
    message = str(info.value)
    assert message.startswith("vertex predict e1: gave up after 3 attempt(s)")
    assert "HTTP 503" in message
    assert isinstance(info.value, TransientError)


def test_permanent_error_fails_fast_without_sleeping():
    t = FakeTime()
    error = BadImageError("image too large", provider="x", operation="x predict")
    fn, calls = script(error, "never")
    with pytest.raises(PermanentError) as info:
        policy(t).call(fn, operation="x predict")
    assert info.value is error and len(calls) == 1 and t.sleeps == []
    assert str(info.value) == "x predict: image too large"


def test_other_exceptions_are_not_retried():
    t = FakeTime()
    fn, calls = script(KeyError("bug"), "never")
    with pytest.raises(KeyError):
        policy(t).call(fn, operation="op")
    assert len(calls) == 1


def test_total_time_bound_stops_before_a_sleep_past_the_deadline():
    t = FakeTime()
    fn, calls = script(throttled(100.0), "never")
    with pytest.raises(RetriesExhaustedError, match="gave up after 1 attempt"):
        policy(t, max_total_s=10.0).call(fn, operation="op")
    assert len(calls) == 1 and t.sleeps == []


def test_total_time_counts_time_spent_in_calls():
    t = FakeTime()
    outcomes = iter([server_error(), server_error(), "ok"])

    def slow() -> object:
        t.now += 4.0  # each call itself takes 4 s
        outcome = next(outcomes)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    with pytest.raises(RetriesExhaustedError, match="gave up after 2 attempt"):
        policy(t, max_total_s=8.0, initial_backoff_s=0.1).call(slow, operation="op")


def test_bad_settings_are_refused():
    with pytest.raises(ValueError):
        RetryPolicy(max_attempts=0)
