"""Planning a face audit: probes, external marks, worst-case searches and cost.

``prepare`` reads the probes, draws the external marks and checks the budget; it sends
nothing. ``FaceAuditPlan`` is what ``--dry-run`` prints.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from audit.errors import AuditInputError, BudgetTooSmallError
from audit.faces.probes import Probe, readable
from audit.faces.request import FaceAuditRequest
from audit.inputs.externals import choose_externals
from marks.mark import Mark
from providers.rekognition import ids


@dataclass(frozen=True)
class FaceAuditPlan:
    """What a face audit will search and pay for at worst, known before any search."""

    method: str
    provider: str
    target: str
    probes_available: int
    probes_unreadable: int
    probes_used: int
    marks: int  # the true mark and the external marks
    first_searches: int  # the smallest search set that yields any evidence
    max_searches: int  # worst case
    price_per_search: float
    worst_case_usd: float
    budget_queries: int | None
    budget_usd: float | None
    alpha: float
    max_faces: int
    threshold: float

    def to_json(self) -> dict:
        """A JSON-serialisable dict (the ``--dry-run --json`` output)."""
        return asdict(self)


@dataclass(frozen=True)
class PreparedFaceAudit:
    """A face audit ready to run: probes, marks (true first), plan, exchangeability, notes."""

    probes: list[Probe]
    marks: list[Mark]
    plan: FaceAuditPlan
    exchangeable: bool
    exchangeable_reason: str
    notes: list[str]


def _check_search(request: FaceAuditRequest) -> None:
    try:
        ids.check_max_faces(request.max_faces)
        ids.check_threshold(request.threshold)
    except ValueError as exc:
        raise AuditInputError(f"face search settings: {exc}") from None


def prepare(request: FaceAuditRequest) -> PreparedFaceAudit:
    """Read the probes, draw the externals and plan ``request``; sends nothing.

    Raises ``AuditInputError`` for unusable probes or search settings and
    ``BudgetTooSmallError`` when the budget cannot pay for the first step.
    """
    _check_search(request)
    if request.live and request.verifier.name == "sequential":
        raise AuditInputError(
            "--live needs the calibrated test: the sequential test searches your mark first, "
            "so a collection that changes during the audit would treat it unlike the externals"
        )
    probes, unreadable = readable(request.probes.probes)
    if not probes:
        raise AuditInputError("none of the probe originals can be read")
    notes = [*request.notes, *request.probes.notes]
    if unreadable:
        notes.append(f"{unreadable} probe original(s) could not be read and were left out")
    needs = request.verifier.needs(len(probes))
    used = min(needs.images, len(probes))
    if used < needs.images:
        notes.append(f"only {used} probe photo(s) available; the method asks for {needs.images}")
    externals = choose_externals(request.mark, needs.externals, store=request.store)
    notes += externals.notes
    first, worst = needs.first_queries, needs.max_queries
    budget = request.budget
    plan = FaceAuditPlan(
        method=request.verifier.name,
        provider=request.collection.provider,
        target=request.collection.target,
        probes_available=len(probes),
        probes_unreadable=unreadable,
        probes_used=used,
        marks=1 + len(externals.marks),
        first_searches=first,
        max_searches=worst,
        price_per_search=budget.price_per_query,
        worst_case_usd=worst * budget.price_per_query,
        budget_queries=budget.max_queries,
        budget_usd=budget.max_usd,
        alpha=request.probes.alpha,
        max_faces=request.max_faces,
        threshold=request.threshold,
    )
    capacity = budget.capacity()
    if capacity is not None and capacity < first:
        raise BudgetTooSmallError(
            f"the budget pays for {capacity} searches (at ${plan.price_per_search:.6f} each) "
            f"but the first step of {plan.method} needs {first}: raise --budget-queries/"
            "--budget-usd, or lower --externals or the number of probes"
        )
    return PreparedFaceAudit(
        probes,
        [request.mark, *externals.marks],
        plan,
        externals.exchangeable,
        externals.reason,
        notes,
    )
