"""The face-match rank test: the true mark ranked among K externals on the same probes.

Every mark (the true one and K external marks of its family) is blended into the
same n probes, each probe searched once, and each mark's statistic is the mean over
the probes of how close the nearest enrolled face came (``audit.faces.statistic``).
p = (1 + #{externals ≥ true}) / (K + 1). Under the null hypothesis the collection
holds no copy carrying the true mark, so nothing in it distinguishes the true mark
from a fresh draw of its family: the K + 1 statistics are exchangeable and p is exact
(P(p ≤ a) ≤ a; ties only make it conservative). It cannot fall below 1/(K + 1),
hence K = 99 by default for p ≤ 0.01, on 5 probes: 500 searches. When the collection
enrolled the posted copies, the probe with the true mark is that copy, byte for byte,
and the nearest enrolled face is the copy itself.
"""

from __future__ import annotations

import numpy as np

from audit.errors import BudgetExhausted
from audit.faces.hypothesis import describe, mark_means, null_hypothesis
from audit.queries.oracle import TRUE_MARK, ScoreOracle
from audit.verifiers.budget_spent import budget_spent
from audit.verifiers.calibration import rank_pvalue
from audit.verifiers.exactness import check_reachable, rank_calibration, smallest_rank_p
from audit.verifiers.inputs import (
    check_at_least,
    check_externals,
    check_images,
    check_level,
    image_order,
    label_index,
    require_label,
)
from audit.verifiers.protocol import Needs, Question
from audit.verifiers.result import verdict_from_p, verifier_result
from audit.verifiers.verdict import VerifierResult


class FaceCalibratedVerifier:
    """Rank of the true mark among ``externals`` marks, on ``n`` probes, in one step.

    Detected iff p ≤ ``level``; a level the rank test can never reach (K + 1 < 1/level)
    is refused before any search. ``seed`` picks which n of the available probes.
    """

    name = "calibrated"

    def __init__(
        self, *, n: int = 5, externals: int = 99, level: float = 0.01, seed: int = 0
    ) -> None:
        check_at_least(n, 1, "n (probes)")
        check_at_least(externals, 1, "externals")
        self.n = n
        self.n_external = externals
        self.level = check_level(level)
        check_reachable(externals, self.level, "the face-match rank test")
        self.seed = seed
        self.null_hypothesis = null_hypothesis(externals, sequential=False)

    def needs(self, n_images_available: int) -> Needs:
        """(K + 1) marks × n probes, all in one step."""
        searches = (self.n_external + 1) * min(self.n, n_images_available)
        return Needs(1, self.n_external, self.n, searches, searches)

    def run(self, oracle: ScoreOracle, question: Question) -> VerifierResult:
        """Search every mark on the same probes and rank the true mark's statistic."""
        label = require_label(question)
        j = label_index(oracle, label)
        n = min(self.n, oracle.n_images)
        check_images(n, oracle, minimum=1)
        check_externals(self.n_external, oracle)
        calibration = rank_calibration(oracle, self.n_external)
        images = image_order(oracle.n_images, self.seed)[:n]
        marks = [TRUE_MARK, *range(1, self.n_external + 1)]
        try:
            scores = oracle.query(marks, images)
        except BudgetExhausted:
            return budget_spent(
                self, oracle, label, level=self.level, calibration=calibration, rounds=[]
            )
        means = mark_means(scores, j)
        x0, externals = float(means[0]), means[1:]
        p = rank_pvalue(x0, externals)
        exceeded = int(np.sum(externals >= x0))
        return verifier_result(
            self,
            oracle,
            label,
            verdict=verdict_from_p(p, self.level),
            p_value=p,
            level=self.level,
            calibration=calibration,
            rounds=[{"step": 1, "n": n, "externals": self.n_external, "exceedances": exceeded}],
            details={
                "statistic": describe(oracle.statistic),
                "externals_planned": self.n_external,
                "externals_compared": self.n_external,
                "exceedances": exceeded,
                "stopped_early": False,
                "p_floor": smallest_rank_p(self.n_external),
                "images": [int(b) for b in np.asarray(images)],
                "true_statistic": x0,
                "external_statistics": [float(v) for v in externals],
                "per_image_true": [float(v) for v in scores[0, :, j]],
            },
        )
