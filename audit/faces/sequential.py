"""The face-match rank test, stopped early (Besag & Clifford, 1991).

The true mark is searched on the n probes first; then the K external marks, in a
seeded random order, ``batch`` at a time; the test stops with "not detected" as soon
as h = ⌊level · (K + 1)⌋ externals have scored at least as high as the true mark.
Each mark's statistic depends on its own searches only, so this decides exactly as
the one-step test with the same K, n, probes and level would
(``audit.verifiers.besag_clifford`` proves it and computes the p-value), with the
same exact false-positive rate when the externals are exchangeable with the true
mark, and far fewer searches when the collection does not hold the posted copies:
with h = 1 the expected number of externals searched on such a collection is about
H(K + 1) ≈ 5.2 for K = 99, and one when nothing matches at all (ties stop it).
"""

from __future__ import annotations

import numpy as np

from audit.errors import BudgetExhausted
from audit.faces.hypothesis import describe, null_hypothesis
from audit.queries.oracle import ScoreOracle
from audit.verifiers.besag_clifford import ExceedanceSearch, external_order, sequential_pvalue
from audit.verifiers.budget_spent import budget_spent
from audit.verifiers.exactness import (
    check_reachable,
    rank_calibration,
    smallest_rank_p,
    tolerated,
)
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


class FaceSequentialVerifier:
    """The face-match rank test over ``externals`` marks on ``n`` probes, stopping early."""

    name = "sequential"

    def __init__(
        self,
        *,
        n: int = 5,
        externals: int = 99,
        batch: int = 1,
        level: float = 0.01,
        seed: int = 0,
    ) -> None:
        check_at_least(n, 1, "n (probes)")
        check_at_least(externals, 1, "externals")
        check_at_least(batch, 1, "batch (externals per step)")
        self.n = n
        self.n_external = externals
        self.batch = min(batch, externals)
        self.level = check_level(level)
        check_reachable(externals, self.level, "the sequential face-match test")
        self.tolerance = tolerated(externals, self.level)
        self.seed = seed
        self.null_hypothesis = null_hypothesis(externals, sequential=True)

    def needs(self, n_images_available: int) -> Needs:
        """First step: the true mark and one batch; worst case every mark, on n probes."""
        n = min(self.n, n_images_available)
        return Needs(1, self.n_external, self.n, (1 + self.batch) * n, (1 + self.n_external) * n)

    def run(self, oracle: ScoreOracle, question: Question) -> VerifierResult:
        """Search the true mark, then externals in random order until the decision is known."""
        label = require_label(question)
        j = label_index(oracle, label)
        n = min(self.n, oracle.n_images)
        check_images(n, oracle, minimum=1)
        check_externals(self.n_external, oracle)
        calibration = rank_calibration(oracle, self.n_external, name="rank (sequential)")
        images = image_order(oracle.n_images, self.seed)[:n]
        order = external_order(self.n_external, self.seed)
        search = ExceedanceSearch(self.tolerance)
        try:
            search.run(oracle, images, order, self.batch, lambda scores: scores[:, :, j])
        except BudgetExhausted:
            return budget_spent(
                self, oracle, label, level=self.level, calibration=calibration, rounds=search.rounds
            )
        h, k = self.tolerance, self.n_external
        p = sequential_pvalue(search.exceeded, search.examined, k, h)
        return verifier_result(
            self,
            oracle,
            label,
            verdict=verdict_from_p(p, self.level),
            p_value=p,
            level=self.level,
            calibration=calibration,
            rounds=search.rounds,
            details={
                "statistic": describe(oracle.statistic),
                "externals_planned": k,
                "externals_compared": search.examined,
                "externals_queried": len(search.seen),
                "exceedances": search.exceeded,
                "tolerated": h,
                "stopped_early": search.examined < k,
                "p_floor": smallest_rank_p(k),
                "images": [int(b) for b in np.asarray(images)],
                "true_statistic": search.x0,
                "external_statistics": [float(row.mean()) for row in search.seen],
                "per_image_true": [float(v) for v in search.true_values],
            },
        )
