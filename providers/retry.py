"""One retry policy for every provider call (tenacity).

Only ``providers.errors.TransientError`` (429, 5xx, timeouts, throttling) is retried,
with exponential backoff and full jitter; a ``retry_after`` the service sent is a lower
bound on the wait. Attempts and total time are bounded. Permanent errors propagate at
once: their message already names the operation.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Generic, TypeVar

from tenacity import RetryCallState, Retrying, retry_if_exception_type

from providers.errors import TransientError

T = TypeVar("T")


class RetriesExhaustedError(TransientError):
    """A transient failure outlasted the policy's attempts or time."""


@dataclass(frozen=True)
class Attempted(Generic[T]):
    """A call's value and how many attempts it took (the ledger records them)."""

    value: T
    attempts: int


@dataclass
class RetryPolicy:
    """Bounded exponential backoff with full jitter for transient provider errors.

    ``sleep`` and ``clock`` are injectable so tests run in no real time. ``rng`` draws
    the jitter.
    """

    max_attempts: int = 6
    max_total_s: float = 120.0
    initial_backoff_s: float = 0.5
    max_backoff_s: float = 30.0
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    rng: random.Random = field(default_factory=random.Random)

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be >= 1, got {self.max_attempts}")
        if self.max_total_s < 0 or self.initial_backoff_s < 0 or self.max_backoff_s < 0:
            raise ValueError("retry times must be >= 0")

    def backoff(self, attempt: int, retry_after: float | None) -> float:
        """Seconds to wait after failed attempt number ``attempt`` (1-based)."""
        cap = min(self.max_backoff_s, self.initial_backoff_s * 2 ** (attempt - 1))
        wait = self.rng.uniform(0.0, cap)  # full jitter: spreads out synchronized clients
        if retry_after is not None and retry_after > wait:
            wait = float(retry_after)
        return wait

    def call(self, fn: Callable[..., T], *args: object, operation: str, **kwargs: object) -> T:
        """Call ``fn(*args, **kwargs)``, retrying transient errors; return its value."""
        return self.call_counted(fn, *args, operation=operation, **kwargs).value

    def call_counted(
        self, fn: Callable[..., T], *args: object, operation: str, **kwargs: object
    ) -> Attempted[T]:
        """Like ``call`` but also report how many attempts were made.

        Raises ``RetriesExhaustedError`` (a ``TransientError``) naming ``operation`` and
        the attempts when the bounds are reached, and any other error unchanged.
        """
        start = self.clock()
        # tenacity computes the wait before asking whether to stop, so ``stop`` can refuse a
        # wait that would end past the deadline (give up now rather than sleep and fail).
        planned: dict[int, float] = {}

        def wait(state: RetryCallState) -> float:
            exc = state.outcome.exception() if state.outcome else None
            delay = self.backoff(state.attempt_number, getattr(exc, "retry_after", None))
            planned[state.attempt_number] = delay
            return delay

        def stop(state: RetryCallState) -> bool:
            if state.attempt_number >= self.max_attempts:
                return True
            delay = planned.get(state.attempt_number, 0.0)
            return self.clock() - start + delay > self.max_total_s

        retrying = Retrying(
            retry=retry_if_exception_type(TransientError),
            stop=stop,
            wait=wait,
            sleep=self.sleep,
            reraise=True,
        )
        attempts = 0
        try:
            for attempt in retrying:
                with attempt:
                    attempts = attempt.retry_state.attempt_number
                    value = fn(*args, **kwargs)
        except RetriesExhaustedError:
            raise
        except TransientError as exc:
            elapsed = self.clock() - start
            raise RetriesExhaustedError(
                f"gave up after {attempts} attempt(s) in {elapsed:.1f} s: {exc}",
                provider=exc.provider,
                operation=operation,
                retry_after=exc.retry_after,
            ) from exc
        return Attempted(value, attempts)
