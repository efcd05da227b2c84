"""What every verifier offers the audit runner."""

from __future__ import annotations

from typing import Protocol

from audit.queries.oracle import ScoreOracle
from audit.verifiers.verdict import VerifierResult


class Verifier(Protocol):
    """A statistical test of "the model learned the person's mark on label j".

    ``n_external`` is how many external marks the oracle must offer;
    ``max_queries(n_images_available)`` the worst-case number of distinct
    (mark, image) pairs ``run`` may ask for, for dry runs and budgets. ``run`` never
    raises ``BudgetExhausted``: it returns an inconclusive result with the evidence
    gathered so far.
    """

    name: str
    null_hypothesis: str
    n_external: int

    def max_queries(self, n_images_available: int) -> int: ...

    def run(self, oracle: ScoreOracle, label: str) -> VerifierResult: ...
