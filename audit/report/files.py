"""Audit reports: ``report.json`` (versioned schema), ``summary.txt`` and ``shifts.png``.

Every file is written atomically. Reports name marks but never hold their pixels,
fingerprints, files or manifests: a report can be shared without giving the mark away.

``report.json``, schema ``isotope-audit/report`` version 1 (fields may be added; a
change of meaning bumps the version):

- ``created`` (ISO time), ``provider``, ``target``, ``statistic`` (``log_prob``,
  ``neg_rank``, or ``confidence``: a tag's confidence, 0 when absent, for threshold
  output), ``alpha`` (blend strength of the queries);
- ``model``: the model version every reply came from, ``{"identity", "learned_from"}``
  (identity null when the service does not say), or null when nothing was asked;
- ``mark`` (name), ``other`` (the distinguisher's second mark and label, or null),
  ``externals`` (names of the external marks);
- ``aux``: ``folder``, ``images`` (used), ``unreadable`` (names), ``excluded`` (count of
  images of the audited labels);
- ``result``: the verifier's ``VerifierResult`` (``method``, ``verdict``
  (``detected``, ``not_detected``, ``inconclusive``), ``label``, ``p_value``,
  ``null_hypothesis``, ``level``, ``queries``, ``rounds``, ``details``, ``reason``,
  ``calibration`` (what produced the p-value), ``exact`` (true only for a rank p-value
  over exchangeable externals) and ``exact_reason``);
- ``queries`` {``billed``, ``cached``, ``attempts``}, ``cost_usd``, ``price_per_query``;
- ``plan``: the dry-run plan; ``notes``: remarks for the reader.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from audit.report.wording import evidence_lines, headline
from marks.atomic import write_atomic

REPORT_SCHEMA = "isotope-audit/report"
REPORT_SCHEMA_VERSION = 1
REPORT_JSON = "report.json"
SUMMARY_TXT = "summary.txt"
SHIFTS_PNG = "shifts.png"


@dataclass(frozen=True)
class ReportFiles:
    """Where a report's files were written."""

    folder: Path
    json: Path
    summary: Path
    plot: Path | None


def summary_text(document: dict) -> str:
    """A short human summary of a report document."""
    result = document["result"]
    queries = document["queries"]
    label = f"label {result['label']!r}" if result["label"] else "no label"
    lines = [
        f"isotope audit — {result['method']} verifier on {label}",
        headline(result),
        f"provider: {document['provider']} / {document['target']}",
        *_model_line(document.get("model")),
        f"mark: {document['mark']}; external marks: {len(document['externals'])}; "
        f"blend alpha {document['alpha']}",
        "",
        f"null hypothesis: {result['null_hypothesis']}",
        *evidence_lines(result),
        "",
        f"queries: {queries['billed']} billed, {queries['cached']} from the ledger, "
        f"{queries['attempts']} requests sent (with retries)",
        f"cost: ${document['cost_usd']:.4f} at ${document['price_per_query']:.6f} per query",
    ]
    for note in document.get("notes", []):
        lines.append(f"note: {note}")
    return "\n".join(lines) + "\n"


def _model_line(model: dict | None) -> list[str]:
    """The line naming the model version audited (none when nothing was asked)."""
    if not model:
        return []
    if model.get("identity") is None:
        return ["model audited: unknown (the service does not say which model answers)"]
    return [f"model audited: {model['identity']} ({model['learned_from']})"]


def write_report(folder: Path, document: dict, plot_png: bytes | None) -> ReportFiles:
    """Write ``document`` (plus its summary and plot) into ``folder``, atomically each."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    document = {"schema": REPORT_SCHEMA, "schema_version": REPORT_SCHEMA_VERSION, **document}
    json_path = folder / REPORT_JSON
    summary_path = folder / SUMMARY_TXT
    write_atomic(json_path, (json.dumps(document, indent=2, default=str) + "\n").encode())
    write_atomic(summary_path, summary_text(document).encode())
    plot_path = None
    if plot_png is not None:
        plot_path = folder / SHIFTS_PNG
        write_atomic(plot_path, plot_png)
    return ReportFiles(folder, json_path, summary_path, plot_path)
