"""The report of a finished audit: its JSON document and its plot."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np

from audit.queries.provider_oracle import ProviderOracle
from audit.report.plot import PlotData, per_image_from_answers, render_shifts_png
from audit.runner.outcome import AuditOutcome
from audit.runner.plan import Prepared
from audit.runner.request import AuditRequest
from audit.verifiers.verdict import VerifierResult

_UNITS = {
    "log_prob": "log-probability of the label",
    "neg_rank": "minus the rank of the label",
    "confidence": "confidence of the label (0 when not returned)",
}


def plot_data(result: VerifierResult, oracle: ProviderOracle, statistic: str) -> PlotData:
    """What the report's plot shows: the verifier's own statistic where it reports it,
    else the raw answers on the label."""
    details = result.details
    label = result.label
    described = str(details.get("statistic") or _UNITS.get(statistic, statistic))
    if label:
        described = described.replace("label j", f"label {label!r}").replace(
            "the label", f"label {label!r}"
        )
    data = PlotData(
        label=label,
        verdict=result.verdict.value,
        p_value=result.p_value,
        exact=result.exact,
        method=result.method,
        statistic=described,
    )
    if "external_statistics" in details and "true_statistic" in details:
        data.true_statistic = float(details["true_statistic"])
        data.external_statistics = np.asarray(details["external_statistics"], dtype=float)
        data.planned = details.get("externals_planned")
    if "per_label_true" in details:  # a label scan: one column per label
        data.statistic = "each mark's largest standardized statistic (z) across the labels"
        data.strip_names = list(details["labels"])
        data.strip_true = np.asarray(details["per_label_true"], dtype=float)
        data.strip_externals = np.asarray(details["per_label_externals"], dtype=float)
        data.strip_what = "label"
        data.strip_value = "standardized statistic (z across all marks, label by label)"
    elif "per_image_true" in details:
        data.strip_true = np.asarray(details["per_image_true"], dtype=float)
        data.strip_externals = np.asarray(details["per_image_externals"], dtype=float)
        data.strip_names = [str(b) for b in details.get("images", range(len(data.strip_true)))]
        data.strip_value = described.replace("mean over the images of ", "")
    elif label in oracle.labels:
        names, true, externals = per_image_from_answers(oracle.answered(label), oracle.n_external)
        data.strip_names, data.strip_true, data.strip_externals = names, true, externals
        data.strip_value = _UNITS.get(statistic, statistic)
    return data


def shifts_png(result: VerifierResult, oracle: ProviderOracle, statistic: str) -> bytes:
    """The report's plot of what the verifier tested (or of the raw answers)."""
    return render_shifts_png(plot_data(result, oracle, statistic))


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
        "model": outcome.model.to_json() if outcome.model is not None else None,
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
        "surrogate": request.surrogate.manifest.public() if request.surrogate else None,
    }
