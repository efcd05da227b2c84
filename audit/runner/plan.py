"""Planning an audit: images, marks, worst-case queries and cost, before any query.

``prepare`` loads the auxiliary images, makes the external marks and checks the
budget; ``AuditPlan`` is what ``--dry-run`` prints.
"""

from __future__ import annotations

from dataclasses import dataclass

from audit.errors import BudgetTooSmallError, VerifierOptionError
from audit.inputs.aux_images import AuxImages, load_aux_images
from audit.inputs.externals import fresh_externals
from audit.queries.provider_oracle import LOG_PROB, NEG_RANK, check_label
from audit.runner.request import AuditRequest
from marks.blend import check_alpha
from marks.mark import Mark


@dataclass(frozen=True)
class AuditPlan:
    """What an audit will cost at worst, known before any query."""

    method: str
    label: str  # "" for a label scan
    provider: str
    target: str
    images_available: int
    images_unreadable: int
    images_excluded: int
    marks: int  # the true mark, a distinguisher's second mark, the external marks
    round_queries: int  # the smallest query set that yields any evidence
    max_queries: int  # worst case distinct (mark, image) pairs, plus a label probe if needed
    price_per_query: float
    worst_case_usd: float
    budget_queries: int | None
    budget_usd: float | None

    def to_json(self) -> dict:
        """A JSON-serialisable dict (the ``--dry-run --json`` output)."""
        return dict(self.__dict__)


@dataclass(frozen=True)
class Prepared:
    """An audit ready to run: its images, marks (oracle order), plan and notes."""

    aux: AuxImages
    marks: list[Mark]
    plan: AuditPlan
    notes: list[str]


def prepare(request: AuditRequest, *, extra_queries: int = 0) -> Prepared:
    """Load images, make externals and plan ``request``; sends nothing.

    ``extra_queries`` are paid before the audit proper (e.g. proposing the label from
    the person's own images): the budget must cover them plus the first round.
    Raises ``audit.errors`` types for bad input (``BudgetTooSmallError`` included).
    """
    check_alpha(request.alpha)
    if request.statistic not in (LOG_PROB, NEG_RANK):
        raise VerifierOptionError(f"statistic must be {LOG_PROB!r} or {NEG_RANK!r}")
    audited = request.audited_labels()
    aux = load_aux_images(request.aux_dir, exclude_labels=audited)
    verifier = request.verifier
    needs = verifier.needs(len(aux))
    leading = request.leading_marks()
    if len(leading) != needs.held_marks:
        raise VerifierOptionError(
            f"{verifier.name} compares {needs.held_marks} of your marks, got {len(leading)}"
        )
    aux.require(needs.images)
    known = request.classifier.labels()
    if known:
        for label in audited:
            check_label(label, known)
    notes = []
    if aux.excluded:
        notes.append(
            f"{len(aux.excluded)} auxiliary images of {', '.join(map(repr, audited))} were left out"
        )
    if aux.skipped:
        notes.append(f"{len(aux.skipped)} unreadable auxiliary images were skipped")
    chosen = list(request.externals)
    if len(chosen) < needs.externals:
        fresh, fresh_notes = fresh_externals(
            request.mark, needs.externals - len(chosen), avoid=[*leading[1:], *chosen]
        )
        chosen += fresh
        notes += fresh_notes
    # A service that does not list its labels is asked once, with a clean image.
    probe = 0 if known or (request.statistic == NEG_RANK and audited) else 1
    budget = request.budget
    max_queries = needs.max_queries + probe + extra_queries
    plan = AuditPlan(
        method=verifier.name,
        label=request.question.label or "",
        provider=request.classifier.provider,
        target=request.classifier.target,
        images_available=len(aux),
        images_unreadable=len(aux.skipped),
        images_excluded=len(aux.excluded),
        marks=len(leading) + needs.externals,
        round_queries=needs.first_queries + probe + extra_queries,
        max_queries=max_queries,
        price_per_query=budget.price_per_query,
        worst_case_usd=max_queries * budget.price_per_query,
        budget_queries=budget.max_queries,
        budget_usd=budget.max_usd,
    )
    capacity = budget.capacity()
    if capacity is not None and capacity < plan.round_queries:
        raise BudgetTooSmallError(
            f"the budget pays for {capacity} queries (at ${plan.price_per_query:.6f} per "
            f"query) but the first round of {plan.method} needs {plan.round_queries}: raise "
            "--budget-queries/--budget-usd, or lower --n or the number of external marks"
        )
    return Prepared(aux, [*leading, *chosen], plan, notes)
