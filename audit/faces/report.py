"""The report of a face audit: ``report.json`` and ``summary.txt`` (``audit.report.files``).

The document has the fields of a classification audit's report (schema
``isotope-audit/report``), with ``statistic`` ``face_match`` and, instead of ``aux``:
``probes`` (where the probes came from, how many were available and used, how many
rebuilt copies matched the posted files byte for byte), ``search`` (MaxFaces,
FaceMatchThreshold) and ``metrics`` (``audit.faces.metrics``). Like every report it
names marks but never holds their pixels, fingerprints, the photos' paths or manifests.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from audit.faces.oracle import FACE_MATCH
from audit.faces.outcome import FaceAuditOutcome
from audit.faces.plan import PreparedFaceAudit
from audit.faces.wording import NOT_PROOF_FACES, with_caveat
from audit.report.files import ReportFiles, write_report
from marks.atomic import write_atomic


def default_report_dir(workspace: Path, method: str) -> Path:
    """``<workspace>/reports/<UTC time>-faces-<method>``."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S.%fZ")
    return Path(workspace) / "reports" / f"{stamp}-faces-{method}"


def report_document(
    outcome: FaceAuditOutcome, prepared: PreparedFaceAudit, *, origin: str, reproduced: dict
) -> dict:
    """The ``report.json`` document of a face audit."""
    plan = outcome.plan
    return {
        "created": datetime.now(UTC).isoformat(),
        "provider": plan.provider,
        "target": plan.target,
        "model": outcome.model.to_json(),
        "statistic": FACE_MATCH,
        "alpha": plan.alpha,
        "mark": prepared.marks[0].name,
        "other": None,
        "externals": [mark.name for mark in prepared.marks[1:]],
        "probes": {
            "origin": origin,
            "available": plan.probes_available,
            "unreadable": plan.probes_unreadable,
            "used": plan.probes_used,
            **reproduced,
        },
        "search": {"max_faces": plan.max_faces, "threshold": plan.threshold},
        "result": outcome.result.to_json(),
        "metrics": outcome.metrics,
        "queries": outcome.counts.to_json(),
        "cost_usd": outcome.counts.cost_usd,
        "price_per_query": plan.price_per_search,
        "plan": plan.to_json(),
        "notes": outcome.notes,
    }


def write_face_report(
    folder: Path, document: dict, *, caveat: str = NOT_PROOF_FACES
) -> ReportFiles:
    """Write the document and its summary into ``folder`` (atomically each; no plot),
    the summary with the face audits' ``caveat`` for "not detected" and, for a
    third-party audit, the Table 11-style figures."""
    files = write_report(folder, document, None)
    summary = with_caveat(files.summary.read_text(), caveat)
    metrics = document.get("metrics")
    if metrics:
        summary += metrics_text(metrics)
    write_atomic(files.summary, summary.encode())
    return files


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def metrics_text(metrics: dict) -> str:
    """The Table 11-style figures of a third-party audit, for people."""
    mine, theirs = metrics["true_mark"], metrics["external_marks"]
    rank = metrics["candidate_copy_rank_with_external_marks"]
    return (
        f"searches with a match: your mark {_share(mine['share_with_match'])}, external "
        f"marks {_share(theirs['share_with_match'])}; no face found: your mark "
        f"{_share(mine['share_no_face'])}, external marks {_share(theirs['share_no_face'])}\n"
        f"your mark came closest of all marks on {_share(metrics['share_true_mark_closest'])} "
        f"of {metrics['photos_compared']} photos; the face it matched best ranks "
        f"{'-' if rank is None else f'{rank:.1f}'} on average with the external marks\n"
    )
