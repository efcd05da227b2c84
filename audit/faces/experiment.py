"""The paper's enroll-and-probe experiment on a collection the person controls.

``run_experiment`` enrolls a ``prepare rekognition`` plan's set1 and set2
(``audit.faces.enroll``: idempotent, priced first), searches the collection with every
set1, set2 and set3 image, reports Table 11's metrics per set (``audit.faces.table11``)
and tests, with an exact rank p-value, whether set1's mark pulls the set3 photos
towards the set1 isotopes more than external marks of its family would
(``audit.faces.experiment_oracle``).

Null hypothesis of the p-value: the collection's face model does not match faces by
the mark: a set3 photo carrying set1's mark comes no closer to the set1 isotopes
(relative to the same person's set2 faces) than the same photo carrying one of K
fresh marks of its family, which were never enrolled. The p-value is the probability,
under it, that set1's mark ranks at least as high as it did among the K + 1 marks.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from audit.faces.enroll import Enroller, EnrollItem, EnrollReport
from audit.faces.experiment_oracle import ISOTOPE_PULL, ExperimentOracle
from audit.faces.experiment_plan import ExperimentPlan, PlanImage
from audit.faces.report import write_face_report
from audit.faces.searcher import LedgeredFaceSearch
from audit.faces.table11 import PAPER_TABLE_11, table11
from audit.faces.wording import NOT_PULLED
from audit.inputs.externals import choose_externals
from audit.report.files import ReportFiles
from audit.spending.budget import Budget
from audit.spending.ledger import Ledger, QueryCounts
from audit.spending.model_pin import TOLD, ModelPin
from audit.verifiers.protocol import Question, Verifier
from audit.verifiers.verdict import VerifierResult
from marks.mark import Mark
from marks.store import MarkStore
from providers.face_collection import FaceCollection
from providers.rate_limit import RateLimiter
from providers.retry import RetryPolicy

EXPERIMENT_NULL = (
    "the collection's face model does not match faces by the mark: set3 photos carrying "
    "the set1 mark come no closer to the set1 isotopes (relative to the same person's "
    "set2 faces) than the same photos carrying one of {k} external marks of the mark's "
    "family, never enrolled"
)


@dataclass
class ExperimentRequest:
    """One experiment: a plan, its mark, the collection, the test and the budget.

    ``threshold`` is Table 11's similarity threshold; searches ask for ``max_faces``
    matches at ``search_threshold`` or above (low, so ranks are seen below the
    threshold too). Index and search prices come from the price table; the budget
    (queries, USD) covers both, enrollment first.
    """

    collection: FaceCollection
    plan: ExperimentPlan
    mark: Mark
    verifier: Verifier
    store: MarkStore | None
    index_price: float
    search_price: float
    budget_queries: int | None = None
    budget_usd: float | None = None
    threshold: float = 95.0
    max_faces: int = 20
    search_threshold: float = 0.0
    limiter: RateLimiter | None = None
    retry: RetryPolicy | None = None


@dataclass
class ExperimentOutcome:
    """A finished experiment: enrollment, Table 11, the p-value's result, what it cost."""

    enrollment: EnrollReport
    table: dict
    result: VerifierResult
    searches: QueryCounts
    model: ModelPin
    threshold: float
    notes: list[str] = field(default_factory=list)
    report: ReportFiles | None = None

    def to_json(self) -> dict:
        """The CLI's ``--json`` object (``audit probability``'s fields, plus the table)."""
        counts = self.searches + self.enrollment.counts
        return {
            "verdict": self.result.verdict.value,
            "method": self.result.method,
            "statistic": ISOTOPE_PULL,
            "label": self.result.label,
            "p_value": self.result.p_value,
            "level": self.result.level,
            "calibration": self.result.calibration,
            "exact": self.result.exact,
            "exact_reason": self.result.exact_reason,
            "null_hypothesis": self.result.null_hypothesis,
            "reason": self.result.reason,
            "model": self.model.to_json(),
            "queries": counts.to_json(),
            "cost_usd": counts.cost_usd,
            "rounds": self.result.rounds,
            "report": str(self.report.folder) if self.report else None,
            "notes": self.notes,
            "threshold": self.threshold,
            "table11": self.table,
            "paper_table11": PAPER_TABLE_11,
            "enrollment": self.enrollment.to_json(),
        }


def enroll_items(plan: ExperimentPlan) -> list[EnrollItem]:
    """set1 and set2 as enrollment items (ExternalImageIds from the plan)."""
    return [
        EnrollItem(str(image.external_id), image.image)
        for image in plan.enrolled
        if image.external_id is not None
    ]


def _identity_ids(plan: ExperimentPlan) -> dict[str, tuple[set[str], set[str]]]:
    ids: dict[str, tuple[set[str], set[str]]] = defaultdict(lambda: (set(), set()))
    for image in plan.enrolled:
        if image.external_id is not None:
            ids[image.identity][0 if image.role == "set1" else 1].add(image.external_id)
    return dict(ids)


def _left(cap: float | None, spent: float) -> float | None:
    return None if cap is None else max(0.0, cap - spent)


def run_experiment(
    request: ExperimentRequest,
    *,
    workspace: Path,
    report_dir: Path | None = None,
    progress: Callable[[int], None] | None = None,
) -> ExperimentOutcome:
    """Enroll, probe, tabulate and test (module docstring); write a report."""
    plan, collection = request.plan, request.collection
    folder = report_dir or Path(workspace) / "reports" / (
        datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ") + "-faces-experiment"
    )
    folder.mkdir(parents=True, exist_ok=True)
    externals = choose_externals(
        request.mark, request.verifier.needs(len(plan.role("set3"))).externals, store=request.store
    )
    ledger = Ledger.in_workspace(workspace)
    try:
        enroller = Enroller(
            collection,
            ledger,
            budget=Budget(request.budget_queries, request.budget_usd, request.index_price),
            retry=request.retry,
            limiter=request.limiter,
            progress=progress,
        )
        enrollment = enroller.run(enroller.plan(enroll_items(plan)))
        spent = enrollment.counts
        info = collection.describe()
        searcher = LedgeredFaceSearch(
            collection,
            ledger,
            model=info.model,
            max_faces=request.max_faces,
            threshold=request.search_threshold,
            budget=Budget(
                None if request.budget_queries is None else request.budget_queries - spent.billed,
                _left(request.budget_usd, spent.cost_usd),
                request.search_price,
            ),
            retry=request.retry,
            limiter=request.limiter,
            progress=progress,
        )
        probes: list[PlanImage] = [*plan.role("set1"), *plan.role("set2"), *plan.role("set3")]
        outcomes = searcher.search_many([probe.image() for probe in probes])
        table = table11(plan, list(zip(probes, outcomes, strict=True)), request.threshold)
        oracle = ExperimentOracle(
            searcher,
            plan.role("set3"),
            [request.mark, *externals.marks],
            plan.alpha,
            _identity_ids(plan),
            exchangeable=externals.exchangeable,
        )
        verifier = request.verifier
        verifier.null_hypothesis = EXPERIMENT_NULL.format(k=oracle.n_external)  # type: ignore[misc]
        result = verifier.run(oracle, Question(ISOTOPE_PULL))
    finally:
        ledger.close()
    if not result.exact and externals.reason:
        result.exact_reason = f"{externals.reason}; {result.exact_reason}"
    notes = list(externals.notes)
    if enrollment.not_indexed:
        notes.append(f"{len(enrollment.not_indexed)} plan image(s) were not indexed (no face)")
    outcome = ExperimentOutcome(
        enrollment, table, result, searcher.counts, ModelPin(info.model, TOLD), request.threshold
    )
    outcome.notes = notes
    document = {
        "created": datetime.now(UTC).isoformat(),
        "provider": collection.provider,
        "target": collection.target,
        "model": outcome.model.to_json(),
        "statistic": ISOTOPE_PULL,
        "alpha": plan.alpha,
        "mark": request.mark.name,
        "other": None,
        "externals": [mark.name for mark in externals.marks],
        "result": result.to_json(),
        "table11": table,
        "paper_table11": PAPER_TABLE_11,
        "threshold": request.threshold,
        "enrollment": enrollment.to_json(),
        "queries": outcome.searches.to_json(),
        "cost_usd": outcome.searches.cost_usd + enrollment.counts.cost_usd,
        "price_per_query": request.search_price,
        "notes": notes,
    }
    outcome.report = write_face_report(folder, document, caveat=NOT_PULLED)
    return outcome
