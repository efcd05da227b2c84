"""One audit end to end: plan, budget check, ledgered queries, verifier, report.

``run_audit`` runs an ``AuditRequest`` (any command's); ``run_probability_audit`` is
the one-label shorthand the demo uses. Bad input raises ``audit.errors`` types before
anything is spent; provider failures raise ``providers.errors.ProviderError``; a
budget that runs out mid-way gives an inconclusive outcome whose ``exit_code`` is
``ExitCode.BUDGET``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from audit.queries.provider_oracle import ProviderOracle
from audit.queries.vocabulary import resolve_vocabulary
from audit.report.document import report_document, shifts_png
from audit.report.files import write_report
from audit.runner.outcome import AuditOutcome
from audit.runner.plan import AuditPlan, Prepared, prepare
from audit.runner.query_order import record_order_seed
from audit.runner.report_folder import check_report_folder
from audit.runner.request import AuditRequest
from audit.spending.budget import Budget
from audit.spending.ledger import Ledger, LedgeredClassifier
from audit.spending.model_pin import UNKNOWN_NOTE
from audit.verifiers.protocol import Question
from audit.verifiers.registry import build_verifier
from marks.mark import Mark
from marks.store import MarkStore
from providers import registry
from providers.classifier import Classifier
from providers.query import QueryImage
from providers.rate_limit import RateLimiter
from providers.retry import RetryPolicy

if TYPE_CHECKING:  # loading surrogates needs torch; most audits never do
    from audit.surrogates.models import SurrogateSet


def plan_audit(request: AuditRequest) -> AuditPlan:
    """The dry-run plan: images, worst-case queries and cost; sends nothing.

    Raises the same bad-input errors as ``run_audit`` (``BudgetTooSmallError`` included).
    """
    return prepare(request).plan


def default_report_dir(workspace: Path, method: str) -> Path:
    """``<workspace>/reports/<UTC time>-<method>``."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    return Path(workspace) / "reports" / f"{stamp}-{method}"


def run_audit(
    request: AuditRequest,
    *,
    workspace: Path,
    report_dir: Path | None = None,
    progress: Callable[[int], None] | None = None,
    notes: Sequence[str] = (),
    prepared: Prepared | None = None,
) -> AuditOutcome:
    """Run ``request`` through the workspace's ledger and write a report.

    ``report_dir`` None writes under ``<workspace>/reports/``. ``prepared`` reuses a
    plan already made for this request (images loaded, externals made). The report
    folder is checked before the first query (``ReportError``: taken or not writable).
    """
    prepared = prepared if prepared is not None else prepare(request)
    folder = report_dir if report_dir is not None else default_report_dir(workspace, "")
    check_report_folder(folder)
    classifier = request.classifier
    limiter = request.limiter or registry.default_limiter(classifier.provider)
    ledger = Ledger.in_workspace(workspace)
    try:
        ledgered = LedgeredClassifier(
            classifier, ledger, request.budget, request.retry, limiter, progress
        )
        # Before anything is read from the ledger: which model must answer (a probe, the
        # clean image the label probe also uses, only when the service does not say).
        aux = prepared.aux
        ledgered.pin_model(QueryImage.from_array(aux.images[0], base=aux.ids[0]))
        vocabulary = resolve_vocabulary(
            ledgered,
            prepared.aux,
            statistic=request.statistic,
            audited=request.audited_labels(),
        )
        # The statistic the replies were scored with (threshold output: confidence-or-0).
        request = replace(request, statistic=vocabulary.statistic)
        surrogate = None
        if request.surrogate is not None:
            from audit.surrogates.models import LocalSurrogateScores

            surrogate = LocalSurrogateScores(
                request.surrogate,
                prepared.aux,
                prepared.marks,
                request.alpha,
                statistic=vocabulary.statistic,
            )
        oracle = ProviderOracle(
            ledgered,
            prepared.aux,
            prepared.marks,
            request.alpha,
            labels=vocabulary.labels,
            statistic=vocabulary.statistic,
            open_vocabulary=vocabulary.open,
            # From the externals' provenance (audit/inputs/externals.py): draws of the
            # true mark's own family, or not (a photo mark without a pool, picked ones).
            exchangeable=prepared.exchangeable,
            surrogate=surrogate,
        )
        result = request.verifier.run(oracle, request.question)
    finally:
        ledger.close()
    unseen = vocabulary.unseen_notes(request.audited_labels(), oracle.returned)
    pin = ledgered.pin
    unknown = [UNKNOWN_NOTE] if pin is not None and pin.identity is None else []
    outcome = AuditOutcome(
        result,
        ledgered.counts,
        prepared.plan,
        notes=[*notes, *prepared.notes, *unseen, *unknown],
        statistic=vocabulary.statistic,
        model=pin,
    )
    document = report_document(outcome, request, prepared)
    png = shifts_png(result, oracle, request.statistic)
    if report_dir is None:  # named after the method that answered, as checked above
        folder = default_report_dir(workspace, result.method)
    outcome.report = write_report(folder, document, png)
    record_order_seed(workspace, oracle.order_seed, outcome.report.folder)
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
    progress: Callable[[int], None] | None = None,
    retry: RetryPolicy | None = None,
    limiter: RateLimiter | None = None,
    store: MarkStore | None = None,
    surrogate: SurrogateSet | None = None,
) -> AuditOutcome:
    """Audit ``classifier`` for ``mark`` on ``label`` with a ``probability`` method.

    See ``AuditRequest`` for the arguments and ``run_audit`` for what happens.
    """
    request = AuditRequest(
        classifier=classifier,
        verifier=build_verifier(method, command="probability", **options),
        mark=mark,
        aux_dir=aux_dir,
        alpha=alpha,
        budget=budget,
        question=Question(label),
        externals=externals,
        retry=retry,
        limiter=limiter,
        store=store,
        surrogate=surrogate,
    )
    return run_audit(request, workspace=workspace, report_dir=report_dir, progress=progress)
