"""Audit a label proposed from the person's own images, for a person who does not know j.

The model's answers on the person's own clean images (what they posted) propose j; the
proposed label is then tested alone. The proposal looks only at the person's images,
never at the audit's auxiliary queries, so the single test needs no correction for it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, replace
from pathlib import Path

from audit.inputs.own_images import count_own_images, propose_from_own_images
from audit.runner.outcome import AuditOutcome
from audit.runner.plan import AuditPlan, prepare
from audit.runner.report_folder import check_report_folder
from audit.runner.request import AuditRequest
from audit.runner.run import run_audit
from audit.verifiers.protocol import Question
from providers.retry import RetryPolicy


def plan_own_label_audit(own_dir: Path, request: AuditRequest) -> AuditPlan:
    """The plan of proposing j from ``own_dir`` (one query per image), then auditing it.

    ``request`` is the audit to run once j is known (its question is replaced); the
    budget must cover the own images plus the audit's first round. Proposing pins the
    model as the audit does: one probe more when the service does not tell it.
    """
    own = count_own_images(own_dir)
    retry = request.retry if request.retry is not None else RetryPolicy()
    told = retry.call(
        request.classifier.model_identity,
        operation=f"{request.classifier.provider} model identity",
    )
    probe = 0 if told is not None else 1
    return prepare(replace(request, question=Question()), extra_queries=own + probe).plan


def run_own_label_audit(
    own_dir: Path,
    request: AuditRequest,
    *,
    workspace: Path,
    report_dir: Path | None = None,
    progress: Callable[[int], None] | None = None,
) -> AuditOutcome:
    """Propose j from ``own_dir``, then run ``request`` on it; both within its budget."""
    plan_own_label_audit(own_dir, request)  # every check before the first query
    if report_dir is not None:
        check_report_folder(report_dir)
    found, counts = propose_from_own_images(
        request.classifier,
        own_dir,
        workspace=workspace,
        budget=request.budget,
        retry=request.retry,
        limiter=request.limiter,
    )
    best = found[0]
    note = (
        f"label {best.label!r} proposed from the model's answers on {own_dir} "
        f"(top label of {best.top1_share:.0%} of those images); tested alone"
    )
    outcome = run_audit(
        replace(request, question=Question(best.label)),
        workspace=workspace,
        report_dir=report_dir,
        progress=progress,
        notes=[note],
    )
    outcome.counts = outcome.counts + counts
    outcome.proposals = [asdict(p) for p in found]
    return outcome
