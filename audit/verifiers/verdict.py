"""What a verifier concludes."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from enum import StrEnum


class Verdict(StrEnum):
    """The three answers an audit can give."""

    DETECTED = "detected"
    NOT_DETECTED = "not_detected"
    INCONCLUSIVE = "inconclusive"


@dataclass
class VerifierResult:
    """A verifier's decision with the evidence for it.

    ``p_value`` is the probability, under ``null_hypothesis``, of evidence at least as
    strong as that observed (None where the method has no single p-value, e.g.
    ``paper``'s round count). ``rounds`` holds per-round or per-stage statistics.
    ``calibration`` names what produced the p-value ("rank", "t", "paired t", ...);
    ``exact`` is True only when that p-value is exact (a rank p-value over external
    marks exchangeable with the true mark), and ``exact_reason`` says why it is or
    why it is only approximate.
    """

    method: str
    verdict: Verdict
    label: str
    p_value: float | None
    null_hypothesis: str
    level: float  # the error rate the method controls (or nominal λ for ``paper``)
    queries: int  # distinct (mark, image) pairs answered
    rounds: list[dict] = field(default_factory=list)
    details: dict = field(default_factory=dict)
    reason: str = ""  # e.g. "budget spent" for an inconclusive verdict
    calibration: str = ""
    exact: bool = False  # never claimed unless a verifier establishes it
    exact_reason: str = ""

    def to_json(self) -> dict:
        """A JSON-serialisable dict."""
        data = asdict(self)
        data["verdict"] = self.verdict.value
        return data
