"""One billed face-service call under the budget, the rate limiter and the retry policy.

The caller reserves the call in the budget before sending. An attempt the service
refused (throttled, a 5xx, a bad request) was not billed: the reservation pays for
the next attempt, and is refunded when the call fails for good. An attempt sent
without a reply coming back (``UnansweredError``: a timeout, a connection dropped
mid-reply) may have been billed: it is counted as spent (``on_unanswered``) and the
next attempt reserves again, so the budget is never exceeded even then. A reply that
came back unusable (``BadReplyError``) was billed too: its reservation stays spent.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from audit.spending.budget import Budget
from providers.errors import BadReplyError, UnansweredError
from providers.rate_limit import RateLimiter
from providers.retry import Attempted, RetryPolicy

T = TypeVar("T")


def paid_call(
    fn: Callable[[], T],
    *,
    budget: Budget,
    retry: RetryPolicy,
    limiter: RateLimiter,
    operation: str,
    on_unanswered: Callable[[], None] = lambda: None,
) -> Attempted[T]:
    """``fn()`` with retries; one reservation (made by the caller) held for it.

    Raises what the last attempt raised (``BudgetExhausted`` when a retry after an
    unanswered attempt cannot be paid for).
    """
    held = [True]

    def attempt() -> T:
        if not held[0]:
            budget.reserve(1)  # BudgetExhausted stops the retries
            held[0] = True
        limiter.acquire()
        try:
            return fn()
        except UnansweredError:
            held[0] = False
            on_unanswered()
            raise
        except BadReplyError:
            held[0] = False  # answered, unusably: billed all the same, never retried
            raise

    try:
        return retry.call_counted(attempt, operation=operation)
    except BaseException:
        if held[0]:
            budget.refund(1)  # refused or never sent: not billed
        raise
