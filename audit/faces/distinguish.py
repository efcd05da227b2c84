"""Which of several marks did a face collection enroll? One exact test per mark, Holm.

A person who posted photos on several sites, each copy marked with a mark of its own,
asks which site's copies a collection holds. Each mark gets its own third-party audit
(``audit.faces.run``): its posted copies rebuilt with it, ranked among K external marks,
an exact p-value under "the collection holds no copy carrying this mark". Holm's
step-down over the M marks' p-values keeps the chance of naming *any* mark wrongly at
most ``level``, whatever the dependence between the audits; a mark is "enrolled" iff its
Holm-adjusted p-value is at most ``level``. The smallest adjusted p-value M marks can
reach is M/(K + 1), so K must be at least M/level − 1: a smaller K is refused before
any search.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from audit.errors import VerifierOptionError
from audit.exit_codes import ExitCode
from audit.faces.outcome import FaceAuditOutcome
from audit.faces.plan import prepare
from audit.faces.request import FaceAuditRequest
from audit.faces.run import run_face_audit


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm-adjusted p-values: reject hypothesis i at FWER α iff adjusted[i] ≤ α."""
    order = sorted(range(len(pvalues)), key=lambda i: pvalues[i])
    adjusted = [1.0] * len(pvalues)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (len(pvalues) - rank) * pvalues[i]))
        adjusted[i] = running
    return adjusted


def externals_needed(marks: int, level: float) -> int:
    """The fewest external marks with which Holm over ``marks`` tests can reach ``level``."""
    return max(1, math.ceil(marks / level - 1e-9) - 1)


@dataclass
class FaceDistinguishOutcome:
    """Every mark's audit, its Holm-adjusted p-value, and the marks found enrolled."""

    outcomes: dict[str, FaceAuditOutcome]
    adjusted: dict[str, float]
    level: float

    @property
    def enrolled(self) -> list[str]:
        """The marks whose copies the collection holds (Holm at ``level``)."""
        return [name for name, p in self.adjusted.items() if p <= self.level]

    @property
    def exit_code(self) -> ExitCode:
        """BUDGET when any audit ran out before a decision, else FINISHED."""
        codes = {outcome.exit_code for outcome in self.outcomes.values()}
        return ExitCode.BUDGET if ExitCode.BUDGET in codes else ExitCode.FINISHED

    def to_json(self) -> dict:
        """The ``--json`` object: per-mark results, the enrolled marks, totals."""
        billed = sum(o.counts.billed for o in self.outcomes.values())
        cached = sum(o.counts.cached for o in self.outcomes.values())
        attempts = sum(o.counts.attempts for o in self.outcomes.values())
        inconclusive = [n for n, o in self.outcomes.items() if o.result.p_value is None]
        return {
            "verdict": "inconclusive"
            if inconclusive
            else ("detected" if self.enrolled else "not_detected"),
            "method": "distinguish",
            "level": self.level,
            "enrolled": self.enrolled,
            "null_hypothesis": (
                "for each mark: the collection holds no copy carrying it (family-wise error "
                "over the marks held at the level by Holm's procedure)"
            ),
            "exact": all(o.result.exact for o in self.outcomes.values()),
            "marks": {
                name: {
                    "p_value": outcome.result.p_value,
                    "p_holm": self.adjusted[name],
                    "enrolled": self.adjusted[name] <= self.level,
                    "exact": outcome.result.exact,
                    "report": str(outcome.report.folder) if outcome.report else None,
                }
                for name, outcome in self.outcomes.items()
            },
            "queries": {"billed": billed, "cached": cached, "attempts": attempts},
            "cost_usd": sum(o.counts.cost_usd for o in self.outcomes.values()),
        }


def check_distinguishable(requests: Mapping[str, FaceAuditRequest], level: float) -> None:
    """Refuse fewer than two marks, or externals too few for Holm to ever reach ``level``."""
    if len(requests) < 2:
        raise VerifierOptionError("distinguishing needs at least two marks (--mark, repeated)")
    need = externals_needed(len(requests), level)
    for name, request in requests.items():
        externals = request.verifier.needs(1).externals
        if externals < need:
            raise VerifierOptionError(
                f"mark {name}: {externals} external marks cannot reach level {level:g} over "
                f"{len(requests)} marks (Holm's smallest p is {len(requests)}/(K + 1)): "
                f"use --externals {need} or more"
            )


def run_face_distinguish(
    requests: Mapping[str, FaceAuditRequest],
    *,
    level: float,
    workspace: Path,
    report_dir: Path | None = None,
    progress: Callable[[int], None] | None = None,
) -> FaceDistinguishOutcome:
    """Audit the collection once per mark (each report in its own folder), then Holm.

    Every audit is planned before the first search, so bad input is refused while
    nothing is spent.
    """
    check_distinguishable(requests, level)
    prepared = {name: prepare(request) for name, request in requests.items()}
    outcomes = {
        name: run_face_audit(
            request,
            workspace=workspace,
            report_dir=None if report_dir is None else Path(report_dir) / name,
            progress=progress,
            prepared=prepared[name],
        )
        for name, request in requests.items()
    }
    pvalues = [o.result.p_value if o.result.p_value is not None else 1.0 for o in outcomes.values()]
    adjusted = dict(zip(outcomes, holm(pvalues), strict=True))
    return FaceDistinguishOutcome(outcomes, adjusted, level)
