"""The result a verifier returns when the budget runs out before a decision."""

from __future__ import annotations

from audit.oracle import ScoreOracle
from audit.verdict import Verdict, VerifierResult


def budget_spent(
    verifier: object,
    oracle: ScoreOracle,
    label: str,
    *,
    level: float,
    rounds: list[dict],
    details: dict | None = None,
) -> VerifierResult:
    """Inconclusive, reason "budget spent", with the rounds finished so far."""
    return VerifierResult(
        method=verifier.name,  # type: ignore[attr-defined]
        verdict=Verdict.INCONCLUSIVE,
        label=label,
        p_value=None,
        null_hypothesis=verifier.null_hypothesis,  # type: ignore[attr-defined]
        level=level,
        queries=oracle.queries_used(),
        rounds=rounds,
        details=details or {},
        reason="budget spent",
    )
