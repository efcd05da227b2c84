"""Building the ``VerifierResult`` a verifier returns, and deciding from a p-value."""

from __future__ import annotations

from typing import Protocol

from audit.queries.oracle import ScoreOracle
from audit.verifiers.exactness import Calibration
from audit.verifiers.verdict import Verdict, VerifierResult

_RELATIVE_SLACK = 1e-9  # (1 + c)/(K + 1) and the level are equal up to rounding at the edge


class Described(Protocol):
    """What a result needs from its verifier (read-only: some compute it)."""

    @property
    def name(self) -> str: ...

    @property
    def null_hypothesis(self) -> str: ...


def rejects(p_value: float, level: float) -> bool:
    """Whether ``p_value`` ≤ ``level`` (up to floating-point rounding)."""
    return bool(p_value <= level * (1 + _RELATIVE_SLACK))


def verdict_from_p(p_value: float, level: float) -> Verdict:
    """Detected iff ``p_value`` ≤ ``level`` (up to floating-point rounding)."""
    return Verdict.DETECTED if rejects(p_value, level) else Verdict.NOT_DETECTED


def verifier_result(
    verifier: Described,
    oracle: ScoreOracle,
    label: str,
    *,
    verdict: Verdict,
    p_value: float | None,
    level: float,
    calibration: Calibration,
    rounds: list[dict],
    details: dict | None = None,
    reason: str = "",
) -> VerifierResult:
    """The verifier's result, with its name, null hypothesis, calibration and the
    queries spent so far."""
    return VerifierResult(
        method=verifier.name,
        verdict=verdict,
        label=label,
        p_value=p_value,
        null_hypothesis=verifier.null_hypothesis,
        level=level,
        queries=oracle.queries_used(),
        rounds=rounds,
        details=details or {},
        reason=reason,
        calibration=calibration.name,
        exact=calibration.exact,
        exact_reason=calibration.reason,
    )
