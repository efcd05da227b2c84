"""``FaceAuditOutcome``: a finished face audit, what it cost, where its report is."""

from __future__ import annotations

from dataclasses import dataclass, field

from audit.exit_codes import ExitCode
from audit.faces.oracle import FACE_MATCH
from audit.faces.plan import FaceAuditPlan
from audit.report.files import ReportFiles
from audit.spending.ledger import QueryCounts
from audit.spending.model_pin import ModelPin
from audit.verifiers.verdict import Verdict, VerifierResult


@dataclass
class FaceAuditOutcome:
    """A finished face audit: the verifier's result, searches paid, the model, the report.

    ``metrics`` are the Table 11-style figures (``audit.faces.metrics``).
    """

    result: VerifierResult
    counts: QueryCounts
    plan: FaceAuditPlan
    model: ModelPin
    metrics: dict = field(default_factory=dict)
    report: ReportFiles | None = None
    notes: list[str] = field(default_factory=list)

    @property
    def exit_code(self) -> ExitCode:
        """FINISHED for any finished verdict, BUDGET when it ran out before a decision."""
        spent = self.result.verdict is Verdict.INCONCLUSIVE and self.result.reason == "budget spent"
        return ExitCode.BUDGET if spent else ExitCode.FINISHED

    def to_json(self) -> dict:
        """The CLI's ``--json`` object: ``audit probability``'s fields, plus ``metrics``."""
        return {
            "verdict": self.result.verdict.value,
            "method": self.result.method,
            "statistic": FACE_MATCH,
            "label": self.result.label,
            "p_value": self.result.p_value,
            "level": self.result.level,
            "calibration": self.result.calibration,
            "exact": self.result.exact,
            "exact_reason": self.result.exact_reason,
            "null_hypothesis": self.result.null_hypothesis,
            "reason": self.result.reason,
            "model": self.model.to_json(),
            "queries": self.counts.to_json(),
            "cost_usd": self.counts.cost_usd,
            "rounds": self.result.rounds,
            "report": str(self.report.folder) if self.report else None,
            "notes": self.notes,
            "metrics": self.metrics,
        }
