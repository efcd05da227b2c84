"""Planning an audit: images, marks, worst-case queries and cost, before any query.

``prepare`` loads the auxiliary images, makes the external marks and checks the
budget; ``AuditPlan`` is what ``--dry-run`` prints.
"""

from __future__ import annotations

from dataclasses import dataclass

from audit.errors import BudgetTooSmallError, VerifierOptionError
from audit.inputs.aux_images import AuxImages, load_aux_images
from audit.inputs.externals import choose_externals
from audit.queries.provider_oracle import STATISTICS, check_label
from audit.queries.vocabulary import needs_probe
from audit.runner.request import AuditRequest
from marks.blend import check_alpha
from marks.mark import Mark
from providers.errors import BadReplyError
from providers.retry import RetryPolicy


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
    max_queries: int  # worst case distinct (mark, image) pairs, plus a probe if needed
    price_per_query: float
    worst_case_usd: float
    budget_queries: int | None
    budget_usd: float | None
    # The model serving now, when the service tells it for free; None: the audit learns
    # it from a reply (a probe, billed once, when the ledger holds replies to compare).
    model: str | None = None

    def to_json(self) -> dict:
        """A JSON-serialisable dict (the ``--dry-run --json`` output)."""
        return dict(self.__dict__)


@dataclass(frozen=True)
class Prepared:
    """An audit ready to run: its images, marks (oracle order), plan and notes.

    ``exchangeable`` says whether the externals are of the true mark's own family (the
    exact rank calibration holds); ``exchangeable_reason`` why not ("" when they are).
    """

    aux: AuxImages
    marks: list[Mark]
    plan: AuditPlan
    notes: list[str]
    exchangeable: bool = False
    exchangeable_reason: str = ""


def _check_distinct(labels: list[str], provider: str) -> None:
    # Replies map label names to scores: two labels with one name cannot be told apart.
    repeated = sorted({label for label in labels if labels.count(label) > 1})
    if repeated:
        raise BadReplyError(
            f"the model lists label(s) {', '.join(map(repr, repeated))} more than once "
            f"among its {len(labels)} labels: their scores cannot be told apart by name, so "
            "this model cannot be audited by label",
            provider=provider,
            operation=f"{provider} labels",
        )


def prepare(request: AuditRequest, *, extra_queries: int = 0) -> Prepared:
    """Load images, make externals and plan ``request``; sends nothing.

    ``extra_queries`` are paid before the audit proper (e.g. proposing the label from
    the person's own images): the budget must cover them plus the first round.
    Raises ``audit.errors`` types for bad input (``BudgetTooSmallError`` included).
    """
    check_alpha(request.alpha)
    if request.statistic not in STATISTICS:
        raise VerifierOptionError(f"statistic must be one of {', '.join(STATISTICS)}")
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
        _check_distinct(known, request.classifier.provider)
        for label in audited:
            check_label(label, known)
    notes = []
    if aux.excluded:
        notes.append(
            f"{len(aux.excluded)} auxiliary images of {', '.join(map(repr, audited))} were left out"
        )
    if aux.skipped:
        notes.append(f"{len(aux.skipped)} unreadable auxiliary images were skipped")
    decoys: list[Mark] = []
    if request.surrogate is not None:
        from audit.surrogates.compat import check_takes_surrogate

        check_takes_surrogate(verifier)
        decoys = request.surrogate.check_for(
            request.mark, request.question.label or "", request.store
        )
        notes.append(
            f"surrogate-adjusted: {request.surrogate.manifest.describe()}; scored locally "
            f"({request.surrogate.folder}), not billed"
        )
    # Decoys count as audited marks for the distance check: an external is never a
    # surrogate's decoy (a surrogate that learned it would single it out).
    externals = choose_externals(
        request.mark,
        needs.externals,
        store=request.store,
        held=request.externals,
        avoid=[*leading[1:], *decoys],
    )
    chosen = externals.marks
    notes += externals.notes
    if not externals.exchangeable:
        notes.append(f"p-values here are not exact: {externals.reason}")
    # Asked for free now, so a traffic split is refused before anything is spent.
    retry = request.retry if request.retry is not None else RetryPolicy()
    model = retry.call(
        request.classifier.model_identity,
        operation=f"{request.classifier.provider} model identity",
    )
    # One clean image, asked once: for the labels of a service that does not list them,
    # and for the model's identity when the service does not tell it (the same query).
    label_probe = needs_probe(bool(known), request.statistic, audited)
    probe = 1 if label_probe or model is None else 0
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
        model=model,
    )
    capacity = budget.capacity()
    if capacity is not None and capacity < plan.round_queries:
        raise BudgetTooSmallError(
            f"the budget pays for {capacity} queries (at ${plan.price_per_query:.6f} per "
            f"query) but the first round of {plan.method} needs {plan.round_queries}: raise "
            "--budget-queries/--budget-usd, or lower --n or the number of external marks"
        )
    return Prepared(aux, [*leading, *chosen], plan, notes, externals.exchangeable, externals.reason)
