"""The result a verifier returns when the budget runs out before a decision."""

from __future__ import annotations

from audit.queries.oracle import ScoreOracle
from audit.verifiers.exactness import Calibration
from audit.verifiers.result import Described, verifier_result
from audit.verifiers.verdict import Verdict, VerifierResult


def budget_spent(
    verifier: Described,
    oracle: ScoreOracle,
    label: str,
    *,
    level: float,
    calibration: Calibration,
    rounds: list[dict],
    details: dict | None = None,
) -> VerifierResult:
    """Inconclusive, reason "budget spent", with the rounds finished so far and the
    calibration the decision would have used."""
    return verifier_result(
        verifier,
        oracle,
        label,
        verdict=Verdict.INCONCLUSIVE,
        p_value=None,
        level=level,
        calibration=calibration,
        rounds=rounds,
        details=details,
        reason="budget spent",
    )
