"""The result a verifier returns when the budget runs out before a decision."""

from __future__ import annotations

from audit.queries.oracle import ScoreOracle
from audit.verifiers.result import Described, verifier_result
from audit.verifiers.verdict import Verdict, VerifierResult


def budget_spent(
    verifier: Described,
    oracle: ScoreOracle,
    label: str,
    *,
    level: float,
    rounds: list[dict],
    details: dict | None = None,
) -> VerifierResult:
    """Inconclusive, reason "budget spent", with the rounds finished so far."""
    return verifier_result(
        verifier,
        oracle,
        label,
        verdict=Verdict.INCONCLUSIVE,
        p_value=None,
        level=level,
        rounds=rounds,
        details=details,
        reason="budget spent",
    )
