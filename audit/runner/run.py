"""One audit end to end: plan, budget check, ledgered queries, verifier, report.

The CLI and the demo call ``run_probability_audit`` (one label, one method); scans
and the distinguisher go through ``AuditRequest`` with ``plan_audit``/``run_audit``.
Bad input raises ``ValueError`` subclasses before anything is spent; provider
failures raise ``providers.errors.ProviderError``; a budget that runs out mid-way
gives an inconclusive outcome whose ``exit_code`` is 3.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from audit.inputs.aux_images import AuxImages, load_aux_images
from audit.inputs.externals import fresh_externals
from audit.queries.provider_oracle import (
    LOG_PROB,
    NEG_RANK,
    ProviderOracle,
    check_label,
    discover_labels,
)
from audit.report.files import ReportFiles, write_report
from audit.report.plot import render_shifts_png, shift_data
from audit.spending.budget import Budget
from audit.spending.ledger import Ledger, LedgeredClassifier, QueryCounts
from audit.verifiers import build_verifier
from audit.verifiers.protocol import Verifier
from audit.verifiers.verdict import Verdict, VerifierResult
from marks.blend import check_alpha
from marks.mark import Mark
from providers.classifier import Classifier
from providers.rate_limit import RateLimiter
from providers.retry import RetryPolicy

EXIT_FINISHED = 0
EXIT_PROVIDER = 1
EXIT_BAD_INPUT = 2
EXIT_BUDGET = 3


class BudgetTooSmallError(ValueError):
    """The budget cannot pay for even one round of the chosen method."""


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


@dataclass
class AuditOutcome:
    """A finished audit: the verifier's result, what it cost, where the report is."""

    result: VerifierResult
    counts: QueryCounts
    plan: AuditPlan
    report: ReportFiles | None = None
    notes: list[str] = field(default_factory=list)
    proposals: list[dict] = field(default_factory=list)  # labels proposed from own images

    @property
    def exit_code(self) -> int:
        """0 for any finished verdict, 3 when the budget ran out before a decision."""
        spent = self.result.verdict is Verdict.INCONCLUSIVE and self.result.reason == "budget spent"
        return EXIT_BUDGET if spent else EXIT_FINISHED

    def to_json(self) -> dict:
        """The CLI's ``--json`` object."""
        return {
            "verdict": self.result.verdict.value,
            "method": self.result.method,
            "label": self.result.label,
            "p_value": self.result.p_value,
            "level": self.result.level,
            "null_hypothesis": self.result.null_hypothesis,
            "reason": self.result.reason,
            "queries": self.counts.to_json(),
            "cost_usd": self.counts.cost_usd,
            "rounds": self.result.rounds,
            "report": str(self.report.folder) if self.report else None,
            "notes": self.notes,
            **({"proposals": self.proposals} if self.proposals else {}),
        }


def images_needed(verifier: Verifier) -> int:
    """Auxiliary images the verifier uses at most (its n, or its last stage's)."""
    stages = getattr(verifier, "stages", None)
    if stages:
        return int(stages[-1][1])
    n = getattr(verifier, "n", None)
    return int(n) if isinstance(n, int) else 1


def first_round_queries(verifier: Verifier, n_marks: int, n_images_available: int) -> int:
    """Queries of the smallest step that yields evidence, never above the worst case.

    A sequential verifier's first stage; otherwise every mark on one round of n images.
    """
    worst = verifier.max_queries(n_images_available)
    stages = getattr(verifier, "stages", None)
    if stages:
        k, n = stages[0]
        return min(worst, (k + 1) * min(n, n_images_available))
    return min(worst, n_marks * min(images_needed(verifier), n_images_available))


@dataclass
class AuditRequest:
    """What to audit and how.

    ``label`` is j (None for a label scan). ``other`` is the distinguisher's second held
    mark and its label (t_k, y_k): it becomes oracle mark 1, before the externals.
    ``externals`` are held external marks; fresh procedural ones fill up to what the
    verifier needs. ``statistic`` is ``log_prob`` (full output) or ``neg_rank``
    (top-K/threshold output).
    """

    classifier: Classifier
    verifier: Verifier
    mark: Mark
    aux_dir: Path
    alpha: float
    budget: Budget
    label: str | None = None
    externals: Sequence[Mark] = ()
    other: tuple[Mark, str] | None = None
    statistic: str = LOG_PROB
    # Set by the first plan: loading images and making externals is not repeated.
    _prepared: _Prepared | None = field(default=None, init=False, repr=False)

    def audited_labels(self) -> list[str]:
        """The labels the audit is about (their auxiliary images are left out)."""
        labels = [self.label] if self.label is not None else []
        if self.other is not None:
            labels.append(self.other[1])
        return labels


@dataclass
class _Prepared:
    aux: AuxImages
    marks: list[Mark]
    plan: AuditPlan
    notes: list[str]


def _prepare(request: AuditRequest) -> _Prepared:
    if request._prepared is None:
        request._prepared = _prepare_fresh(request)
    return request._prepared


def _prepare_fresh(request: AuditRequest) -> _Prepared:
    check_alpha(request.alpha)
    if request.statistic not in (LOG_PROB, NEG_RANK):
        raise ValueError(f"statistic must be {LOG_PROB!r} or {NEG_RANK!r}")
    audited = request.audited_labels()
    aux = load_aux_images(request.aux_dir, exclude_labels=audited)
    verifier = request.verifier
    aux.require(images_needed(verifier))
    known = request.classifier.labels()
    for label in audited:
        if known:
            check_label(label, known)
    notes = []
    if aux.excluded:
        notes.append(
            f"{len(aux.excluded)} auxiliary images of {', '.join(map(repr, audited))} were left out"
        )
    if aux.skipped:
        notes.append(f"{len(aux.skipped)} unreadable auxiliary images were skipped")
    leading = [request.mark] + ([request.other[0]] if request.other else [])
    chosen = list(request.externals)
    if len(chosen) < verifier.n_external:
        fresh, fresh_notes = fresh_externals(
            request.mark, verifier.n_external - len(chosen), avoid=[*leading[1:], *chosen]
        )
        chosen += fresh
        notes += fresh_notes
    marks = [*leading, *chosen]
    # A service that does not list its labels is asked once, with a clean image.
    probe = 0 if known or (request.statistic == NEG_RANK and audited) else 1
    max_queries = verifier.max_queries(len(aux)) + probe
    n_marks = len(leading) + verifier.n_external
    budget = request.budget
    plan = AuditPlan(
        method=verifier.name,
        label=request.label or "",
        provider=request.classifier.provider,
        target=request.classifier.target,
        images_available=len(aux),
        images_unreadable=len(aux.skipped),
        images_excluded=len(aux.excluded),
        marks=n_marks,
        round_queries=first_round_queries(verifier, n_marks, len(aux)) + probe,
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
    return _Prepared(aux, marks, plan, notes)


def plan_audit(request: AuditRequest) -> AuditPlan:
    """The dry-run plan: images, worst-case queries and cost; sends nothing.

    Raises the same bad-input errors as ``run_audit`` (``BudgetTooSmallError`` included).
    """
    return _prepare(request).plan


def default_report_dir(workspace: Path, method: str) -> Path:
    """``<workspace>/reports/<UTC time>-<method>``."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    return Path(workspace) / "reports" / f"{stamp}-{method}"


def run_audit(
    request: AuditRequest,
    *,
    workspace: Path,
    report_dir: Path | None = None,
    retry: RetryPolicy | None = None,
    limiter: RateLimiter | None = None,
    progress: Callable[[int], None] | None = None,
    notes: Sequence[str] = (),
) -> AuditOutcome:
    """Run ``request`` through the workspace's ledger and write a report.

    ``report_dir`` None writes under ``<workspace>/reports/``. ``retry`` and ``limiter``
    default to the standard policy and the provider's default rate.
    """
    prepared = _prepare(request)
    classifier = request.classifier
    ledger = Ledger.in_workspace(workspace)
    try:
        ledgered = LedgeredClassifier(
            classifier,
            ledger,
            request.budget,
            retry,
            limiter if limiter is not None else RateLimiter.for_provider(classifier.provider),
            progress,
        )
        labels = _labels(ledgered, prepared.aux, request)
        oracle = ProviderOracle(
            ledgered,
            prepared.aux,
            prepared.marks,
            request.alpha,
            labels=labels,
            statistic=request.statistic,
        )
        verifier: Any = request.verifier  # run()'s signature differs by kind
        if request.other is not None:
            result = verifier.run(oracle, request.label, request.other[1], other_mark=1)
        elif request.label is None:
            result = verifier.run(oracle)
        else:
            result = verifier.run(oracle, request.label)
    finally:
        ledger.close()
    outcome = AuditOutcome(result, ledgered.counts, prepared.plan, notes=[*notes, *prepared.notes])
    document = _report_document(outcome, request, prepared)
    png = _plot(result, oracle, request.statistic)
    folder = report_dir if report_dir is not None else default_report_dir(workspace, result.method)
    outcome.report = write_report(folder, document, png)
    return outcome


def run_probability_audit(
    classifier: Classifier,
    *,
    mark: Mark,
    externals: Sequence[Mark],
    label: str,
    aux_dir: Path,
    alpha: float,
    method: str,
    options: Mapping[str, object],
    workspace: Path,
    budget: Budget,
    report_dir: Path | None,
    statistic: str = LOG_PROB,
    retry: RetryPolicy | None = None,
    limiter: RateLimiter | None = None,
    progress: Callable[[int], None] | None = None,
    notes: Sequence[str] = (),
) -> AuditOutcome:
    """Audit ``classifier`` for ``mark`` on ``label`` with ``build_verifier(method, **options)``.

    See ``AuditRequest`` for the arguments and ``run_audit`` for what happens.
    """
    request = AuditRequest(
        classifier=classifier,
        verifier=build_verifier(method, **options),
        mark=mark,
        aux_dir=aux_dir,
        alpha=alpha,
        budget=budget,
        label=label,
        externals=externals,
        statistic=statistic,
    )
    return run_audit(
        request,
        workspace=workspace,
        report_dir=report_dir,
        retry=retry,
        limiter=limiter,
        progress=progress,
        notes=notes,
    )


def _labels(classifier: Classifier, aux: AuxImages, request: AuditRequest) -> list[str]:
    audited = request.audited_labels()
    if request.statistic == NEG_RANK and audited and not classifier.labels():
        # A top-K service may never show all its labels; ranks only need the audited ones.
        return audited
    labels = discover_labels(classifier, aux)
    for label in audited:
        check_label(label, labels)
    return labels


def _plot(result: VerifierResult, oracle: ProviderOracle, statistic: str) -> bytes:
    details = result.details
    label = result.label
    if "per_image_shift" in details and "external_statistics" in details:
        # The verifier's own statistic (e.g. centred log-probabilities): plot what it tested.
        shifts = np.asarray(details["per_image_shift"], dtype=float)
        ext_means = np.asarray(details["external_statistics"], dtype=float)
        true_mean = details.get("true_statistic")
    elif label in oracle.labels:
        shifts, ext_means, true_mean = shift_data(oracle.answered(label), oracle.n_external)
    else:
        shifts, ext_means, true_mean = np.array([]), np.array([]), None
    return render_shifts_png(
        shifts,
        ext_means,
        true_mean,
        label=label,
        statistic=details.get("statistic", statistic),
        verdict=result.verdict.value,
    )


def _report_document(outcome: AuditOutcome, request: AuditRequest, prepared: _Prepared) -> dict:
    plan = outcome.plan
    aux = prepared.aux
    n_leading = 2 if request.other else 1
    return {
        "created": datetime.now(UTC).isoformat(),
        "provider": plan.provider,
        "target": plan.target,
        "statistic": request.statistic,
        "alpha": request.alpha,
        "mark": request.mark.name,
        "other": {"mark": request.other[0].name, "label": request.other[1]}
        if request.other
        else None,
        "externals": [m.name for m in prepared.marks[n_leading:]],
        "aux": {
            "folder": str(aux.root),
            "images": len(aux),
            "unreadable": [name for name, _ in aux.skipped],
            "excluded": len(aux.excluded),
        },
        "result": outcome.result.to_json(),
        "queries": outcome.counts.to_json(),
        "cost_usd": outcome.counts.cost_usd,
        "price_per_query": plan.price_per_query,
        "plan": plan.to_json(),
        "notes": outcome.notes,
    }
