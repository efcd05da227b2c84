"""Label discovery: which label, if any, did the model tie to the mark?

Two ways, for a person who does not know the service's label j:

* ``propose_labels`` ranks labels by how the model scores the person's *own* clean
  images (what they posted): the label the model gives them is the likely j. Testing
  that one proposal afterwards on auxiliary images needs no multiplicity correction,
  because the proposal did not look at the audit's data.
* ``LabelScan`` tests every label at once on the same queries as ``calibrated`` (one
  (K + 1) × n query matrix holds every label's scores) and controls the family-wise
  error rate over labels with Holm's step-down procedure.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from audit.errors import BudgetExhausted, VerifierOptionError
from audit.queries.oracle import TRUE_MARK, ScoreOracle
from audit.verifiers.budget_spent import budget_spent
from audit.verifiers.calibration import CALIBRATIONS, calibrated_evidence
from audit.verifiers.inputs import (
    check_choice,
    check_externals,
    check_images,
    check_level,
    image_order,
)
from audit.verifiers.protocol import Needs, Question
from audit.verifiers.result import verifier_result
from audit.verifiers.verdict import Verdict, VerifierResult
from providers.scores import Scores


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm-adjusted p-values: reject label i at FWER α iff adjusted[i] ≤ α."""
    p = np.asarray(pvalues, dtype=float)
    m = len(p)
    order = np.argsort(p, kind="stable")
    adjusted = np.empty(m)
    running = 0.0
    for rank, i in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[i]))
        adjusted[i] = running
    return [float(v) for v in adjusted]


@dataclass
class LabelProposal:
    """A candidate label j and the evidence from the person's own images."""

    label: str
    mean_probability: float  # mean score over the images (absent counted as 0)
    top1_share: float  # share of images on which it is the top label


def propose_labels(scores: Sequence[Scores], *, top: int = 3) -> list[LabelProposal]:
    """The ``top`` labels the model most gives the person's own images, best first."""
    if not scores:
        raise VerifierOptionError("no scores of the person's images to propose a label from")
    totals: dict[str, float] = {}
    firsts: dict[str, int] = {}
    for s in scores:
        for label, value in s.values.items():
            totals[label] = totals.get(label, 0.0) + value  # absent adds nothing
        if s.values:
            best = max(s.values, key=s.values.__getitem__)
            firsts[best] = firsts.get(best, 0) + 1
    n = len(scores)
    proposals = [
        LabelProposal(label, totals[label] / n, firsts.get(label, 0) / n) for label in totals
    ]
    proposals.sort(key=lambda p: (-p.top1_share, -p.mean_probability, p.label))
    return proposals[:top]


class LabelScan:
    """The calibrated test on every label, Holm-corrected over labels.

    Null hypothesis for each label l: the model did not tie the mark to l — the true
    mark's effect on l is one more draw from the external marks' effects on l (same
    images). Holm's procedure keeps the chance of flagging *any* label wrongly at most
    ``level``. ``p_value`` is the smallest Holm-adjusted p-value; ``label`` the label
    it belongs to (the detected label when detected).
    """

    name = "scan"

    def __init__(
        self,
        *,
        n: int = 10,
        externals: int = 49,
        level: float = 0.01,
        centre: bool = True,
        calibration: str = "t",
        labels: Sequence[str] | None = None,
        seed: int = 0,
    ) -> None:
        check_choice(calibration, CALIBRATIONS, "calibration")
        if externals < 2:
            raise VerifierOptionError(f"the scan needs at least 2 external marks, got {externals}")
        self.n = n
        self.n_external = externals
        self.level = check_level(level)
        self.centre = centre
        self.calibration = calibration
        self.only = list(labels) if labels is not None else None
        self.seed = seed
        self.null_hypothesis = (
            "for every label: the mark's effect on it is drawn from the same distribution "
            "as the external marks' effects (family-wise error over labels held by Holm)"
        )

    def needs(self, n_images_available: int) -> Needs:
        """(K + 1) marks × n images, whatever the number of labels, in one step."""
        queries = (self.n_external + 1) * min(self.n, n_images_available)
        return Needs(1, self.n_external, self.n, queries, queries)

    def run(self, oracle: ScoreOracle, question: Question) -> VerifierResult:
        """Scan the labels (``question.label`` is ignored: the scan is for when it is
        unknown)."""
        names = self.only if self.only is not None else list(oracle.labels)
        unknown = [name for name in names if name not in oracle.labels]
        if unknown or not names:
            raise VerifierOptionError(
                f"labels to scan not known to the model: {unknown or 'none given'}"
            )
        check_images(self.n, oracle)
        check_externals(self.n_external, oracle, minimum=2)
        images = image_order(oracle.n_images, self.seed)[: self.n]
        try:
            scores = oracle.query([TRUE_MARK, *range(1, self.n_external + 1)], images)
        except BudgetExhausted:
            return budget_spent(self, oracle, "", level=self.level, rounds=[])
        centre = self.centre and oracle.statistic == "log_prob"
        raw = []
        for name in names:
            evidence = calibrated_evidence(scores, oracle.labels.index(name), centre=centre)
            raw.append(evidence.p_value(self.calibration))
        adjusted = holm(raw)
        rows: list[dict[str, Any]] = [
            {"label": name, "p_value": p, "p_holm": a, "detected": a <= self.level}
            for name, p, a in zip(names, raw, adjusted, strict=True)
        ]
        best = min(rows, key=lambda r: r["p_holm"])
        verdict = Verdict.DETECTED if best["detected"] else Verdict.NOT_DETECTED
        return verifier_result(
            self,
            oracle,
            best["label"],
            verdict=verdict,
            p_value=best["p_holm"],
            level=self.level,
            rounds=rows,
            details={
                "detected_labels": [r["label"] for r in rows if r["detected"]],
                "images": [int(b) for b in np.asarray(images)],
            },
        )
