"""The token bucket: bursts, refill rate, thread safety."""

from __future__ import annotations

import threading
import time

import pytest

from providers import registry
from providers.errors import ProviderOptionError
from providers.rate_limit import RateLimiter


class FakeTime:
    def __init__(self) -> None:
        self.now = 0.0
        self.lock = threading.Lock()

    def clock(self) -> float:
        with self.lock:
            return self.now

    def sleep(self, seconds: float) -> None:
        with self.lock:
            self.now += seconds


def test_burst_is_free_then_calls_wait_for_the_rate():
    t = FakeTime()
    limiter = RateLimiter(10.0, burst=3, clock=t.clock, sleep=t.sleep)
    assert [limiter.acquire() for _ in range(3)] == [0.0, 0.0, 0.0]
    waited = limiter.acquire()
    assert waited == pytest.approx(0.1)
    assert t.now == pytest.approx(0.1)
    for _ in range(10):
        limiter.acquire()
    assert t.now == pytest.approx(1.1)  # 10 more calls at 10/s


def test_unlimited_never_waits():
    limiter = RateLimiter(None)
    assert all(limiter.acquire() == 0.0 for _ in range(1000))


def test_threads_share_one_bucket():
    # Real time, kept tiny: 60 calls at 1000/s with burst 1 take at least ~59 ms.
    limiter = RateLimiter(1000.0, burst=1)
    start = time.monotonic()
    threads = [
        threading.Thread(target=lambda: [limiter.acquire() for _ in range(15)]) for _ in range(4)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert time.monotonic() - start >= 0.055


def test_provider_defaults_and_bad_settings():
    assert registry.rate_limiter(registry.get("vertex"), {}).rate_per_s == 10.0
    assert registry.rate_limiter(registry.get("mock"), {}).rate_per_s is None
    assert registry.rate_limiter(registry.get("mock"), {"rate": "5"}).rate_per_s == 5.0
    with pytest.raises(ProviderOptionError, match="rate=0"):
        registry.rate_limiter(registry.get("mock"), {"rate": "0"})
    with pytest.raises(ValueError):
        RateLimiter(0.0)
    with pytest.raises(ValueError):
        RateLimiter(1.0, burst=2).acquire(3)
