"""``AuditOutcome``: a finished audit, what it cost and where its report is."""

from __future__ import annotations

from dataclasses import dataclass, field

from audit.exit_codes import ExitCode
from audit.report.files import ReportFiles
from audit.runner.plan import AuditPlan
from audit.spending.ledger import QueryCounts
from audit.spending.model_pin import ModelPin
from audit.verifiers.verdict import Verdict, VerifierResult


@dataclass
class AuditOutcome:
    """A finished audit: the verifier's result, what it cost, where the report is."""

    result: VerifierResult
    counts: QueryCounts
    plan: AuditPlan
    report: ReportFiles | None = None
    notes: list[str] = field(default_factory=list)
    proposals: list[dict] = field(default_factory=list)  # labels proposed from own images
    statistic: str = ""  # what replies were scored with: log_prob, neg_rank or confidence
    model: ModelPin | None = None  # the model every reply came from (None: no reply)

    @property
    def exit_code(self) -> ExitCode:
        """FINISHED for any finished verdict, BUDGET when it ran out before a decision."""
        spent = self.result.verdict is Verdict.INCONCLUSIVE and self.result.reason == "budget spent"
        return ExitCode.BUDGET if spent else ExitCode.FINISHED

    def to_json(self) -> dict:
        """The CLI's ``--json`` object."""
        return {
            "verdict": self.result.verdict.value,
            "method": self.result.method,
            "statistic": self.statistic,
            "label": self.result.label,
            "p_value": self.result.p_value,
            "level": self.result.level,
            "calibration": self.result.calibration,
            "exact": self.result.exact,
            "exact_reason": self.result.exact_reason,
            "null_hypothesis": self.result.null_hypothesis,
            "reason": self.result.reason,
            "model": self.model.to_json() if self.model is not None else None,
            "queries": self.counts.to_json(),
            "cost_usd": self.counts.cost_usd,
            "rounds": self.result.rounds,
            "report": str(self.report.folder) if self.report else None,
            "notes": self.notes,
            **({"proposals": self.proposals} if self.proposals else {}),
            **_surrogate_json(self.result.details),
        }


def _surrogate_json(details: dict) -> dict:
    """``{"surrogate": ...}`` when the statistics were surrogate-adjusted, else empty."""
    adjusted = details.get("surrogate")
    if not adjusted:
        return {}
    return {
        "surrogate": {
            "describe": adjusted.get("describe"),
            "raw_true_statistic": adjusted.get("raw_true_statistic"),
            "true_statistic": details.get("true_statistic"),
            "externals_correlation": adjusted.get("externals_correlation"),
        }
    }
