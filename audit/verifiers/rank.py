"""The top-K / threshold verifier: the rank of label j instead of its probability.

When a service returns only its top K labels (or those above a threshold), label j's
score is often missing; its rank is not: 1 for the top label, K + 1 when absent. The
statistic is minus the rank (larger = the model leans more to j). Rank j can be
computed from full output too, so the oracle may hold log-probabilities.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from scipy import stats

from audit.errors import BudgetExhausted, VerifierOptionError
from audit.queries.oracle import TRUE_MARK, ScoreOracle
from audit.verifiers.budget_spent import budget_spent
from audit.verifiers.calibrated import CalibratedVerifier
from audit.verifiers.exactness import RANK, not_exact
from audit.verifiers.inputs import (
    check_at_least,
    check_choice,
    check_externals,
    check_images,
    check_level,
    image_order,
    label_index,
    require_label,
)
from audit.verifiers.mark_statistic import neg_ranks
from audit.verifiers.paper import paired_pvalue
from audit.verifiers.protocol import Needs, Question
from audit.verifiers.result import verdict_from_p, verifier_result
from audit.verifiers.verdict import VerifierResult

TESTS = ("calibrated", "t", "wilcoxon")
__all__ = ["TESTS", "RankVerifier", "neg_ranks", "wilcoxon_pvalue"]


def wilcoxon_pvalue(a: np.ndarray, b: np.ndarray) -> float:
    """One-sided Wilcoxon signed-rank p-value for a > b (1.0 when all pairs tie)."""
    diff = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    if not np.any(diff):
        return 1.0
    nonzero = diff[diff != 0]
    # Exact null distribution without ties; with ties scipy would fall back to a slow
    # permutation test, so use the tie-corrected normal approximation instead.
    exact = len(np.unique(np.abs(nonzero))) == len(nonzero) and len(nonzero) <= 50
    result = stats.wilcoxon(
        nonzero, alternative="greater", zero_method="wilcox", method="exact" if exact else "approx"
    )
    return float(result.pvalue)


class RankVerifier:
    """Rank of label j with the true mark against external marks, on the same images.

    ``test="calibrated"`` (default) — the ``calibrated`` verifier on minus the rank of
    label j. Null hypothesis: the model did not learn the mark, so the true mark's
    mean rank statistic is one more draw from the externals'; p is the chance an
    unseen mark ranks j at least this well relative to the externals. The default is
    the rank p-value (``calibration="rank"``, 99 externals so that p can reach 0.01),
    exact when the externals are exchangeable with the true mark: with top-K output
    most ranks tie at K + 1 and the mean rank is far from normal, and the
    prediction-interval t calibration (``calibration="t"``, labelled approximate) was
    measured above its level there (``benchmarks/verifier_error_rates.py``).
    ``test="t"`` / ``"wilcoxon"`` — the paper-style paired tests of the true mark
    against each external mark (p = the largest over externals); null hypothesis:
    label j's rank has the same distribution with the true mark as with each external
    mark on the same images. Like ``paper``, these detect natural mark-to-mark
    differences too, so their level is not a false-positive rate on clean models, and
    they are labelled not exact.
    """

    name = "rank"

    def __init__(
        self,
        *,
        n: int = 5,
        externals: int = 99,
        level: float = 0.01,
        test: str = "calibrated",
        calibration: str = RANK,
        top_k: int | None = None,
        seed: int = 0,
    ) -> None:
        check_choice(test, TESTS, "test")
        if top_k is not None:
            check_at_least(top_k, 1, "top_k")
        self.n = n
        self.n_external = externals
        self.level = check_level(level)
        self.test = test
        self.top_k = top_k  # truncation applied when the oracle returns log-probabilities
        self.seed = seed
        self._calibrated: CalibratedVerifier | None = None
        if test == "calibrated":
            self._calibrated = CalibratedVerifier(
                n=n,
                externals=externals,
                level=level,
                calibration=calibration,
                statistic="rank",
                top_k=top_k,
                seed=seed,
            )
            self.null_hypothesis = self._calibrated.null_hypothesis.replace(
                "effect on label j", "effect on label j's rank"
            )
        else:
            if externals < 1:
                raise VerifierOptionError(f"test {test!r} needs at least 1 external mark")
            check_at_least(n, 2, "n (images)")
            self.null_hypothesis = (
                "label j's rank has the same distribution on the same images with the true "
                "mark as with each external mark (paired; not calibrated against natural "
                "mark-to-mark differences)"
            )

    @property
    def takes_surrogate(self) -> bool:
        """Only the calibrated rank test adjusts by surrogates (paired tests have no K + 1)."""
        return self._calibrated is not None

    def needs(self, n_images_available: int) -> Needs:
        """(K + 1) marks × n images, all in one step."""
        queries = (self.n_external + 1) * min(self.n, n_images_available)
        return Needs(1, self.n_external, self.n, queries, queries)

    def run(self, oracle: ScoreOracle, question: Question) -> VerifierResult:
        """Query every mark on the same n images; test the rank of label j."""
        if self._calibrated is not None:
            result = self._calibrated.run(oracle, question)
            details = dict(result.details)
            if "per_image_true" in details:
                details["mean_rank_true"] = -float(np.mean(details["per_image_true"]))
                details["mean_rank_externals"] = [-v for v in details["external_statistics"]]
            return replace(
                result, method=self.name, null_hypothesis=self.null_hypothesis, details=details
            )
        label = require_label(question)
        j = label_index(oracle, label)
        check_images(self.n, oracle)
        check_externals(self.n_external, oracle)
        calibration = not_exact(
            f"paired {'t' if self.test == 't' else 'Wilcoxon'} (each external)",
            "paired tests of your mark against each external mark: they also detect "
            "natural mark-to-mark differences, so the level is not a false-positive rate",
        )
        images = image_order(oracle.n_images, self.seed)[: self.n]
        try:
            scores = oracle.query([TRUE_MARK, *range(1, self.n_external + 1)], images)
        except BudgetExhausted:
            return budget_spent(
                self, oracle, label, level=self.level, calibration=calibration, rounds=[]
            )
        if oracle.statistic != "neg_rank":
            scores = neg_ranks(scores, self.top_k)
        pvalue = paired_pvalue if self.test == "t" else wilcoxon_pvalue
        per_external = [
            pvalue(scores[0, :, j], scores[k, :, j]) for k in range(1, self.n_external + 1)
        ]
        p = max(per_external)
        ranks = -scores[:, :, j]
        return verifier_result(
            self,
            oracle,
            label,
            verdict=verdict_from_p(p, self.level),
            p_value=p,
            level=self.level,
            calibration=calibration,
            rounds=[{"stage": 1, "n": self.n, "p_per_external": per_external, "test": self.test}],
            details={
                "statistic": "minus the rank of label j",
                "mean_rank_true": float(ranks[0].mean()),
                "mean_rank_externals": [float(v) for v in ranks[1:].mean(axis=1)],
                "images": [int(b) for b in np.asarray(images)],
            },
        )
