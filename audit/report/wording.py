"""What a verdict means, in the words ``summary.txt`` and the CLI both print.

Everything here reads a result as JSON (``VerifierResult.to_json()``), so a report on
disk and a result in memory are worded alike. JSON keeps the verdict's value
(``not_detected``); people read "not detected".
"""

from __future__ import annotations

import math

_SLACK = 1e-9

NOT_PROOF = (
    "not detected is not proof that your images were unused: a model can be trained on "
    "them without learning the mark (too few marked images, augmentation, a faint mark), "
    "and the mark may have been learned on another label"
)
INCONCLUSIVE = "inconclusive is evidence neither way: the audit stopped before a decision"


def human_verdict(verdict: str) -> str:
    """The verdict as people read it: "detected", "not detected", "inconclusive"."""
    return verdict.replace("_", " ")


def format_p(p: float | None) -> str:
    """A p-value for people: 4 decimals, or scientific notation when tiny."""
    if p is None:
        return "none (this method decides by counting significant rounds)"
    if p != 0 and (p < 1e-3 or not math.isfinite(p)):
        return f"{p:.2e}"
    return f"{p:.4g}"


def headline(result: dict) -> str:
    """``verdict: not detected (budget spent)``."""
    reason = f" ({result['reason']})" if result.get("reason") else ""
    return f"verdict: {human_verdict(result['verdict'])}{reason}"


def calibration_line(result: dict) -> str:
    """Which calibration produced the p-value, exact or approximate, and why."""
    kind = "exact" if result.get("exact") else "approximate"
    name = result.get("calibration") or "not stated"
    reason = result.get("exact_reason") or ""
    return f"calibration: {name} — {kind}" + (f": {reason}" if reason else "")


def strongest_possible(result: dict) -> str | None:
    """The sentence saying p is the smallest value its externals allow, when it is."""
    p = result.get("p_value")
    details = result.get("details") or {}
    floor, externals = details.get("p_floor"), details.get("externals_compared")
    if p is None or floor is None or not externals or p > floor * (1 + _SLACK):
        return None
    return (
        f"p = {format_p(p)} is the strongest evidence {externals} external marks can give "
        "(a rank p-value over them cannot be smaller; more external marks allow smaller "
        "p-values)"
    )


def early_stop(result: dict) -> str | None:
    """For the sequential test: how early it stopped, and why that decides."""
    details = result.get("details") or {}
    if not details.get("stopped_early"):
        return None
    queried = details.get("externals_queried", details["externals_compared"])
    return (
        f"stopped after {queried} of {details['externals_planned']} external marks: "
        f"{details['tolerated']} of them already scored at least as high as your mark, so "
        "the full test could no longer detect"
    )


def _lead(true: float, externals: list[float]) -> float | None:
    """The true mark's z among the externals (None without spread)."""
    if len(externals) < 2:
        return None
    mean = sum(externals) / len(externals)
    sd = math.sqrt(sum((v - mean) ** 2 for v in externals) / (len(externals) - 1))
    return (true - mean) / sd if sd > 0 else None


def surrogate_line(result: dict) -> str | None:
    """Which surrogates adjusted the statistics, and the lead before and after."""
    details = result.get("details") or {}
    adjusted = details.get("surrogate")
    if not adjusted:
        return None
    raw = _lead(adjusted["raw_true_statistic"], adjusted["raw_external_statistics"])
    after = _lead(details["true_statistic"], details["external_statistics"])
    leads = ""
    if raw is not None and after is not None:
        leads = f"; your mark's lead over the externals: {raw:.2f} → {after:.2f} spreads"
    return f"surrogate: {adjusted['describe']}{leads}"


def evidence_lines(result: dict) -> list[str]:
    """The p-value, its calibration and what the verdict does and does not say."""
    p = result.get("p_value")
    lines = [f"p-value: {format_p(p)} (level {result['level']:g})", calibration_line(result)]
    if p is not None:
        lines.append(
            "  meaning: if the null hypothesis were true, evidence at least this strong "
            f"would appear with probability {format_p(p)}; the method reports "
            f"'detected' when it is at or below its level {result['level']:g}"
        )
    else:
        lines.append(f"  nominal per-round level: {result['level']:g}")
    for extra in (surrogate_line(result), strongest_possible(result), early_stop(result)):
        if extra:
            lines.append(extra)
    warning = (result.get("details") or {}).get("warning")
    if warning:
        lines.append(f"warning: {warning}")
    if result["verdict"] == "not_detected":
        lines.append(NOT_PROOF)
    elif result["verdict"] == "inconclusive":
        lines.append(INCONCLUSIVE)
    return lines
