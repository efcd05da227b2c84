"""The seeded core of fault injection: which fault, if any, each request gets.

Shared by the local face engine's ``FaultInjector`` and the test fakes' fault plans.
One draw per request from a seeded generator picks at most one fault by its rate, so
the same requests in the same order meet the same faults. ``skip`` serves the first
requests normally; ``limit`` stops injecting after that many faults. Thread-safe.
"""

from __future__ import annotations

import random
import threading
from collections import Counter
from collections.abc import Mapping

_SLACK = 1e-9  # rates that sum to 1 up to rounding (three times 1/3)


class FaultDraws:
    """Draw faults at ``rates`` (kind -> probability; they sum to at most 1).

    ``injected`` counts the faults drawn, by kind (pass a counter to share it across
    plans). Raises ``ValueError`` for a rate outside [0, 1], rates summing past 1, or a
    negative ``skip`` or ``limit``.
    """

    def __init__(
        self,
        rates: Mapping[str, float],
        *,
        seed: int = 0,
        skip: int = 0,
        limit: int | None = None,
        injected: Counter[str] | None = None,
    ) -> None:
        values = list(rates.values())
        if any(not 0.0 <= rate <= 1.0 for rate in values) or sum(values) > 1.0 + _SLACK:
            raise ValueError(f"fault rates must be in 0..1 and sum to at most 1, got {dict(rates)}")
        if skip < 0 or (limit is not None and limit < 0):
            raise ValueError(f"skip and limit must be >= 0, got {skip} and {limit}")
        self.rates = dict(rates)
        self.skip = skip
        self.limit = limit
        self.injected: Counter[str] = injected if injected is not None else Counter()
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._seen = 0
        self._count = 0

    def draw(self) -> str | None:
        """The fault to inject into this request, or None."""
        with self._lock:
            self._seen += 1
            if self._seen <= self.skip:
                return None
            if self.limit is not None and self._count >= self.limit:
                return None
            draw = self._rng.random()
            for kind, rate in self.rates.items():
                if draw < rate:
                    self._count += 1
                    self.injected[kind] += 1
                    return kind
                draw -= rate
            return None
