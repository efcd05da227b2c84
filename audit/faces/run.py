"""One third-party face audit end to end: plan, pin, ledgered searches, verifier, report.

Bad input raises ``audit.errors`` types before anything is sent; provider failures
raise ``providers.errors.ProviderError`` (``ModelChangedError`` when the collection
changes during the audit, or with ``live`` when its face model does); a budget that
runs out mid-way gives an inconclusive outcome whose ``exit_code`` is
``ExitCode.BUDGET``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from pathlib import Path

from audit.faces.metrics import audit_metrics
from audit.faces.oracle import POSTED_COPY, FaceMatchOracle
from audit.faces.outcome import FaceAuditOutcome
from audit.faces.plan import FaceAuditPlan, PreparedFaceAudit, prepare
from audit.faces.report import default_report_dir, report_document, write_face_report
from audit.faces.request import LIVE_REASON, FaceAuditRequest
from audit.faces.searcher import LedgeredFaceSearch
from audit.spending.ledger import Ledger
from audit.spending.model_pin import TOLD, ModelPin
from audit.verifiers.protocol import Question
from providers import registry
from providers.spec import ProviderKind


def plan_face_audit(request: FaceAuditRequest) -> FaceAuditPlan:
    """The dry-run plan: probes, marks, worst-case searches and cost; sends nothing."""
    return prepare(request).plan


def _reproduction(prepared: PreparedFaceAudit, used: list[int], alpha: float) -> dict:
    """How many of the used probes, rebuilt with the true mark, are the posted files."""
    recorded = [prepared.probes[i] for i in used if prepared.probes[i].posted_sha256]
    same = sum(
        hashlib.sha256(probe.image(prepared.marks[0], alpha).data).hexdigest()
        == probe.posted_sha256
        for probe in recorded
    )
    return {"with_posted_digest": len(recorded), "identical_to_posted": same}


def run_face_audit(
    request: FaceAuditRequest,
    *,
    workspace: Path,
    report_dir: Path | None = None,
    progress: Callable[[int], None] | None = None,
    prepared: PreparedFaceAudit | None = None,
) -> FaceAuditOutcome:
    """Run ``request`` through the workspace's ledger and write a report.

    The collection's state (id, face model version, face count) is pinned with one
    DescribeCollection before the first search; every search is keyed on it.
    ``report_dir`` None writes under ``<workspace>/reports/``. ``prepared`` reuses a
    plan already made for this request.
    """
    prepared = prepared if prepared is not None else prepare(request)
    collection = request.collection
    info = collection.describe()  # not billed per image
    folder = report_dir or default_report_dir(workspace, request.verifier.name)
    folder.mkdir(parents=True, exist_ok=True)  # before any search: fail while nothing is spent
    limiter = request.limiter or registry.default_limiter(
        collection.provider, ProviderKind.FACE_COLLECTION
    )
    ledger = Ledger.in_workspace(workspace)
    try:
        searcher = LedgeredFaceSearch(
            collection,
            ledger,
            model=info.model,
            max_faces=request.max_faces,
            threshold=request.threshold,
            budget=request.budget,
            retry=request.retry,
            limiter=limiter,
            progress=progress,
            live=request.live,
        )
        oracle = FaceMatchOracle(
            searcher,
            prepared.probes,
            prepared.marks,
            request.probes.alpha,
            exchangeable=prepared.exchangeable,
            floor=request.threshold,
        )
        result = request.verifier.run(oracle, Question(POSTED_COPY))
    finally:
        ledger.close()
    if not result.exact and prepared.exchangeable_reason:
        result.exact_reason = f"{prepared.exchangeable_reason}; {result.exact_reason}"
    notes = list(prepared.notes)
    if len(searcher.states) > 1:
        states = ", ".join(sorted(searcher.states))
        result.exact = False
        result.calibration = f"{result.calibration} (approximate: the collection changed)"
        result.exact_reason = LIVE_REASON.format(states=states)
        notes.append(f"the collection changed during the audit: {states}")
    if info.face_count == 0:
        notes.append(f"collection {info.collection_id!r} holds no faces")
    used = [int(i) for i in result.details.get("images", [])]
    reproduced = _reproduction(prepared, used, request.probes.alpha)
    if reproduced["identical_to_posted"] < reproduced["with_posted_digest"]:
        notes.append(
            f"{reproduced['with_posted_digest'] - reproduced['identical_to_posted']} probe(s) "
            "rebuilt with your mark differ from the files you posted (originals edited, or "
            "another version of the mark engine): the test stays exact but is weaker"
        )
    outcome = FaceAuditOutcome(
        result,
        searcher.counts,
        prepared.plan,
        ModelPin(info.model, TOLD),
        audit_metrics(oracle.answered(), request.max_faces),
        notes=notes,
    )
    document = report_document(
        outcome, prepared, origin=request.probes.origin, reproduced=reproduced
    )
    outcome.report = write_face_report(folder, document)
    return outcome
