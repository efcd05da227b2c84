"""Label discovery: which label, if any, did the model tie to the mark?

Two ways, for a person who does not know the service's label j:

* ``propose_labels`` ranks labels by how the model scores the person's *own* clean
  images (what they posted): the label the model gives them is the likely j. Testing
  that one proposal afterwards on auxiliary images needs no multiplicity correction,
  because the proposal did not look at the audit's data.
* ``LabelScan`` tests every label at once on the same queries as ``calibrated`` (one
  (K + 1) × n query matrix holds every label's scores) with the exact max-T rank test
  (``audit.verifiers.max_t``), which holds the family-wise error over labels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from audit.errors import BudgetExhausted, VerifierOptionError
from audit.queries.oracle import TRUE_MARK, ScoreOracle
from audit.verifiers.budget_spent import budget_spent
from audit.verifiers.exactness import (
    check_reachable,
    rank_calibration,
    smallest_rank_p,
)
from audit.verifiers.inputs import (
    check_at_least,
    check_externals,
    check_images,
    check_level,
    image_order,
)
from audit.verifiers.mark_statistic import MarkStatistic
from audit.verifiers.max_t import max_t
from audit.verifiers.protocol import Needs, Question
from audit.verifiers.result import rejects, verdict_from_p, verifier_result
from audit.verifiers.verdict import Verdict, VerifierResult
from providers.scores import Scores


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
    """The calibrated test on every label at once: exact max-T over labels.

    Null hypothesis: the model tied the mark to no label — on every label the true
    mark's effect is exchangeable with the external marks' effects (same family, same
    images). Each mark's statistic is its largest standardized statistic across the
    scanned labels; ``p_value`` is the rank of the true mark's among all K + 1 marks'
    (exact when the oracle's externals are exchangeable with the true mark; never below
    1/(K + 1)), so the chance of "detected" on a model that learned the mark on no
    label is at most ``level``. ``label`` is the label where the true mark's
    standardized statistic is largest (the detected label when detected); each scanned
    label also gets its single-step max-T adjusted p-value.
    """

    name = "scan"

    def __init__(
        self,
        *,
        n: int = 5,
        externals: int = 99,
        level: float = 0.01,
        centre: bool = True,
        labels: Sequence[str] | None = None,
        statistic: str = "auto",
        top_k: int | None = None,
        seed: int = 0,
    ) -> None:
        check_at_least(n, 2, "n (images)")
        check_at_least(externals, 2, "externals")
        self.n = n
        self.n_external = externals
        self.level = check_level(level)
        check_reachable(externals, self.level, "the max-T label scan")
        self.statistic = MarkStatistic(statistic, centre, top_k)
        self.only = list(labels) if labels is not None else None
        self.seed = seed
        self.null_hypothesis = (
            "the model tied the mark to no label: on every label, the mark's effect is "
            f"exchangeable with the effects of {externals} external marks of the same "
            "family on the same images (max-T over labels: family-wise error held)"
        )

    def needs(self, n_images_available: int) -> Needs:
        """(K + 1) marks × n images, whatever the number of labels, in one step."""
        queries = (self.n_external + 1) * min(self.n, n_images_available)
        return Needs(1, self.n_external, self.n, queries, queries)

    def run(self, oracle: ScoreOracle, question: Question) -> VerifierResult:
        """Scan the labels (``question.label`` is ignored: the scan is for when it is
        unknown)."""
        # A tagger's vocabulary is open: the labels are the tags the scan's own replies
        # carry (one set whichever mark is the true one), known only after querying.
        open_vocabulary = getattr(oracle, "open_vocabulary", False)
        names = self.only if self.only is not None else list(oracle.labels)
        unknown = [name for name in names if name not in oracle.labels]
        if not open_vocabulary and (unknown or not names):
            raise VerifierOptionError(
                f"labels to scan not known to the model: {unknown or 'none given'}"
            )
        check_images(self.n, oracle)
        check_externals(self.n_external, oracle, minimum=2)
        calibration = rank_calibration(oracle, self.n_external, name="max-T rank")
        images = image_order(oracle.n_images, self.seed)[: self.n]
        try:
            scores = oracle.query([TRUE_MARK, *range(1, self.n_external + 1)], images)
        except BudgetExhausted:
            return budget_spent(
                self, oracle, "", level=self.level, calibration=calibration, rounds=[]
            )
        if open_vocabulary:
            wanted = self.only if self.only is not None else list(oracle.labels)
            names = [name for name in wanted if name in oracle.labels]
            if not names:  # no tag came back at all: nothing moved
                return verifier_result(
                    self,
                    oracle,
                    "",
                    verdict=Verdict.NOT_DETECTED,
                    p_value=1.0,
                    level=self.level,
                    calibration=calibration,
                    rounds=[],
                    details={"labels": [], "never_returned": wanted},
                )
        columns = [oracle.labels.index(name) for name in names]
        values = self.statistic.values(scores, oracle.statistic)[:, :, columns]
        evidence = max_t(values.mean(axis=1))  # (marks, labels) means over the images
        rows: list[dict[str, Any]] = [
            {
                "label": name,
                "true_statistic": float(values[0, :, i].mean()),
                "z": float(evidence.z[0, i]),
                "p_adjusted": float(evidence.adjusted[i]),
                "detected": rejects(float(evidence.adjusted[i]), self.level),
            }
            for i, name in enumerate(names)
        ]
        best = names[evidence.best]
        per_image = values[:, :, evidence.best]
        return verifier_result(
            self,
            oracle,
            best,
            verdict=verdict_from_p(evidence.p_value, self.level),
            p_value=evidence.p_value,
            level=self.level,
            calibration=calibration,
            rounds=rows,
            details={
                "statistic": "largest across the scanned labels of the standardized "
                f"statistic ({self.statistic.describe(oracle.statistic)}, "
                "standardized across all marks label by label; the root mean square "
                "of the labels' spreads is added to each label's spread in quadrature)",
                "detected_labels": [r["label"] for r in rows if r["detected"]],
                "externals_compared": self.n_external,
                "exceedances": evidence.exceedances,
                "p_floor": smallest_rank_p(self.n_external),
                "images": [int(b) for b in np.asarray(images)],
                "true_statistic": float(evidence.maxima[0]),
                "external_statistics": [float(v) for v in evidence.maxima[1:]],
                "per_label_true": [float(v) for v in evidence.z[0]],
                "per_label_externals": [[float(v) for v in row] for row in evidence.z[1:]],
                "labels": list(names),
                "per_image_true": [float(v) for v in per_image[0]],
                "per_image_externals": [[float(v) for v in row] for row in per_image[1:]],
            },
        )
