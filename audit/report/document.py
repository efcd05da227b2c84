"""The report of a finished audit: its JSON document and its plot."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from audit.queries.provider_oracle import ProviderOracle
from audit.report.plot import render_shifts_png, shift_data
from audit.runner.outcome import AuditOutcome
from audit.runner.plan import Prepared
from audit.runner.request import AuditRequest
from audit.verifiers.verdict import VerifierResult


def shifts_png(result: VerifierResult, oracle: ProviderOracle, statistic: str) -> bytes:
    """The report's plot of what the verifier tested (or of the raw answers)."""
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


def report_document(outcome: AuditOutcome, request: AuditRequest, prepared: Prepared) -> dict:
    """The ``report.json`` document (schema in ``audit.report.files``)."""
    plan = outcome.plan
    aux = prepared.aux
    n_leading = len(request.leading_marks())
    other = request.other_mark
    return {
        "created": datetime.now(UTC).isoformat(),
        "provider": plan.provider,
        "target": plan.target,
        "statistic": request.statistic,
        "alpha": request.alpha,
        "mark": request.mark.name,
        "other": {"mark": other.name, "label": request.question.other_label} if other else None,
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
