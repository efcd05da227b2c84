"""Audit reports: ``report.json`` (versioned schema), ``summary.txt`` and ``shifts.png``.

Every file is written atomically. Reports name marks but never hold their pixels,
fingerprints, files or manifests: a report can be shared without giving the mark away.

``report.json``, schema ``isotope-audit/report`` version 1 (fields may be added; a
change of meaning bumps the version):

- ``created`` (ISO time), ``provider``, ``target``, ``statistic`` (``log_prob`` or
  ``neg_rank``), ``alpha`` (blend strength of the queries);
- ``mark`` (name), ``other`` (the distinguisher's second mark and label, or null),
  ``externals`` (names of the external marks);
- ``aux``: ``folder``, ``images`` (used), ``unreadable`` (names), ``excluded`` (count of
  images of the audited labels);
- ``result``: the verifier's ``VerifierResult`` (``method``, ``verdict``, ``label``,
  ``p_value``, ``null_hypothesis``, ``level``, ``queries``, ``rounds``, ``details``,
  ``reason``);
- ``queries`` {``billed``, ``cached``, ``attempts``}, ``cost_usd``, ``price_per_query``;
- ``plan``: the dry-run plan; ``notes``: remarks for the reader.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

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


def _format_p(p: float | None) -> str:
    if p is None:
        return "none (this method decides by counting significant rounds)"
    if p != 0 and (p < 1e-3 or not math.isfinite(p)):
        return f"{p:.2e}"
    return f"{p:.4f}"


def summary_text(document: dict) -> str:
    """A short human summary of a report document."""
    result = document["result"]
    queries = document["queries"]
    p = result.get("p_value")
    lines = [
        f"isotope audit — {result['method']} verifier on label {result['label']!r}",
        f"verdict: {result['verdict']}"
        + (f" ({result['reason']})" if result.get("reason") else ""),
        f"provider: {document['provider']} / {document['target']}",
        f"mark: {document['mark']}; external marks: {len(document['externals'])}; "
        f"blend alpha {document['alpha']}",
        "",
        f"null hypothesis: {result['null_hypothesis']}",
        f"p-value: {_format_p(p)}",
    ]
    if p is not None:
        lines.append(
            "  meaning: if the null hypothesis were true, evidence at least this strong "
            f"would appear with probability {_format_p(p)}; the method reports "
            f"'detected' when it is at or below its level {result['level']}."
        )
    else:
        lines.append(f"  nominal per-round level: {result['level']}")
    lines += [
        "",
        f"queries: {queries['billed']} billed, {queries['cached']} from the ledger, "
        f"{queries['attempts']} requests sent (with retries)",
        f"cost: ${document['cost_usd']:.4f} at ${document['price_per_query']:.6f} per query",
    ]
    for note in document.get("notes", []):
        lines.append(f"note: {note}")
    return "\n".join(lines) + "\n"


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
