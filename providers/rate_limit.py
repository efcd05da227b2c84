"""A thread-safe token bucket that keeps calls to one provider within its quota."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class RateLimiter:
    """Token bucket: at most ``burst`` calls at once, refilled at ``rate_per_s``.

    ``rate_per_s=None`` disables limiting. ``clock`` and ``sleep`` are injectable so
    tests take no real time.
    """

    def __init__(
        self,
        rate_per_s: float | None,
        burst: int = 1,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if rate_per_s is not None and not rate_per_s > 0:
            raise ValueError(f"rate_per_s must be > 0 or None, got {rate_per_s}")
        if burst < 1:
            raise ValueError(f"burst must be >= 1, got {burst}")
        self.rate_per_s = rate_per_s
        self.burst = burst
        self._clock = clock
        self._sleep = sleep
        self._tokens = float(burst)
        self._updated = clock()
        self._lock = threading.Lock()

    def acquire(self, tokens: int = 1) -> float:
        """Block until ``tokens`` are available and take them; return seconds waited."""
        if self.rate_per_s is None:
            return 0.0
        if tokens > self.burst:
            raise ValueError(f"cannot take {tokens} tokens from a bucket of {self.burst}")
        waited = 0.0
        while True:
            with self._lock:
                now = self._clock()
                self._tokens = min(
                    float(self.burst), self._tokens + (now - self._updated) * self.rate_per_s
                )
                self._updated = now
                # The epsilon absorbs float rounding of refills (else a 1e-17 shortfall
                # would mean sleeping for less than the clock can measure, forever).
                if self._tokens >= tokens - 1e-9:
                    self._tokens = max(0.0, self._tokens - tokens)
                    return waited
                delay = (tokens - self._tokens) / self.rate_per_s
            # Sleep outside the lock so other threads can refill-and-check meanwhile.
            self._sleep(delay)
            waited += delay
