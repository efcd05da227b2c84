"""The query and money budget of an audit, enforced before anything is sent."""

from __future__ import annotations

import math
import threading

from audit.errors import AuditInputError, BudgetExhausted

MAX_QUERIES = 10**12
MAX_USD = 1e9
MAX_PRICE = 1_000.0  # no service charges more per query; larger is a typo
MIN_PRICE = 1e-9  # a billionth of a dollar: below it a price is a typo, and capacity overflows


class Budget:
    """At most ``max_queries`` billed queries and ``max_usd`` dollars (None = no limit).

    Callers ``reserve`` queries before sending them, so concurrent senders can never
    overspend together; ``refund`` returns a reservation whose request failed (services
    do not bill rejected calls). Thread-safe.
    """

    def __init__(
        self, max_queries: int | None, max_usd: float | None, price_per_query: float
    ) -> None:
        if max_queries is not None and not 0 <= max_queries <= MAX_QUERIES:
            raise AuditInputError(
                f"query budget (--budget-queries) must be from 0 to {MAX_QUERIES}, "
                f"got {max_queries}"
            )
        if max_usd is not None and not (math.isfinite(max_usd) and 0 <= max_usd <= MAX_USD):
            raise AuditInputError(
                f"money budget (--budget-usd) must be a finite number of dollars from 0 to "
                f"{MAX_USD:g}, got {max_usd}"
            )
        if not (
            math.isfinite(price_per_query)
            and (price_per_query == 0 or MIN_PRICE <= price_per_query <= MAX_PRICE)
        ):
            raise AuditInputError(
                f"price per query must be 0, or from {MIN_PRICE:g} to {MAX_PRICE:g} dollars, "
                f"got {price_per_query}"
            )
        self.max_queries = max_queries
        self.max_usd = max_usd
        self.price_per_query = float(price_per_query)
        self._reserved = 0
        self._lock = threading.Lock()

    @classmethod
    def unlimited(cls, price_per_query: float = 0.0) -> Budget:
        """A budget that only counts."""
        return cls(None, None, price_per_query)

    def capacity(self) -> int | None:
        """How many queries the whole budget pays for (None = unlimited)."""
        limits = []
        if self.max_queries is not None:
            limits.append(self.max_queries)
        if self.max_usd is not None and self.price_per_query > 0:
            # A small epsilon so $0.01 at $0.001/query buys 10, not 9 (float rounding).
            # Finite by the bounds above (at most 1e9 / 1e-9 = 1e18 queries).
            limits.append(math.floor(self.max_usd / self.price_per_query + 1e-9))
        return min(limits) if limits else None

    def remaining(self) -> int | None:
        """Queries still affordable (None = unlimited)."""
        cap = self.capacity()
        with self._lock:
            return None if cap is None else max(0, cap - self._reserved)

    def reserve(self, n: int) -> None:
        """Take ``n`` queries from the budget or raise ``BudgetExhausted`` taking none."""
        if n < 0:
            raise ValueError(f"cannot reserve {n} queries")
        cap = self.capacity()
        with self._lock:
            if cap is not None and self._reserved + n > cap:
                raise BudgetExhausted(
                    f"budget spent: {self._reserved} of {cap} queries used, {n} more needed"
                )
            self._reserved += n

    def refund(self, n: int) -> None:
        """Give back ``n`` reserved queries whose request was not billed."""
        with self._lock:
            self._reserved = max(0, self._reserved - n)

    @property
    def spent_queries(self) -> int:
        """Queries reserved and not refunded."""
        with self._lock:
            return self._reserved

    @property
    def spent_usd(self) -> float:
        """What the spent queries cost at ``price_per_query``."""
        return self.spent_queries * self.price_per_query
