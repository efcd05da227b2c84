"""The unpaired verifier for physical marks: two sets of different photos (Welch).

A physical mark (an object placed in the scene) cannot be blended into the same
auxiliary images, so the two samples are different photos. Oracle convention for
this verifier: ``TRUE_MARK`` row b is the b-th photo *with* the object, ``CLEAN``
row b the b-th photo *without* it; external marks 1..K, when compared against, are
photos with other objects. The runner builds such an oracle; ``welch_pvalue`` takes
plain arrays for callers that already hold scores.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from audit.errors import BudgetExhausted, VerifierOptionError
from audit.queries.oracle import CLEAN, TRUE_MARK, ScoreOracle
from audit.verifiers.budget_spent import budget_spent
from audit.verifiers.exactness import not_exact
from audit.verifiers.inputs import (
    check_choice,
    check_externals,
    check_images,
    check_level,
    label_index,
    require_label,
)
from audit.verifiers.protocol import Needs, Question
from audit.verifiers.result import verdict_from_p, verifier_result
from audit.verifiers.verdict import VerifierResult

COMPARE = ("clean", "externals")

CALIBRATION = not_exact(
    "Welch t",
    "Welch's t-test between different photos: it assumes normal means and an object the "
    "model never saw can still shift the label, so the level is not a false-positive rate",
)


def welch_pvalue(with_mark: np.ndarray, without_mark: np.ndarray) -> tuple[float, float]:
    """One-sided Welch t-test for mean(with_mark) > mean(without_mark); returns (t, p).

    Null hypothesis: the two populations of photos have equal means of the statistic
    (variances may differ). p is the chance of a difference of means this large if so.
    """
    a = np.asarray(with_mark, dtype=float)
    b = np.asarray(without_mark, dtype=float)
    if len(a) < 2 or len(b) < 2:
        raise VerifierOptionError(
            f"Welch's test needs ≥ 2 photos per set, got {len(a)} and {len(b)}"
        )
    if np.var(a) == 0 and np.var(b) == 0:
        return (float("inf"), 0.0) if a.mean() > b.mean() else (0.0, 1.0)
    result = stats.ttest_ind(a, b, equal_var=False, alternative="greater")
    return float(result.statistic), float(result.pvalue)


class UnpairedVerifier:
    """Welch one-sided t-test of label j's score on photos with vs without the object.

    Null hypothesis: label j's score has the same mean on photos with the physical
    mark as on photos without it (``compare="clean"``, the paper's test) or as on
    photos with the external objects pooled (``compare="externals"``). p is the chance
    of the observed difference of means if so. Caution: an object the model never saw
    can still shift label j (natural effects), so this p-value is not a
    false-positive rate on clean models; prefer external objects as the comparison.
    """

    name = "unpaired"

    def __init__(
        self,
        *,
        n: int | None = None,
        level: float = 0.01,
        compare: str = "clean",
        externals: int = 0,
        use_log: bool = False,
    ) -> None:
        check_choice(compare, COMPARE, "compare")
        if compare == "externals" and externals < 1:
            raise VerifierOptionError("compare='externals' needs at least 1 external mark")
        self.n = n  # photos per set; None: every photo the oracle holds
        self.level = check_level(level)
        self.compare = compare
        self.n_external = externals if compare == "externals" else 0
        self.use_log = use_log
        against = "without it" if compare == "clean" else "with the external objects"
        self.null_hypothesis = (
            f"label j's score has the same mean on photos with the physical mark as on "
            f"photos {against} (Welch, unpaired)"
        )

    def needs(self, n_images_available: int) -> Needs:
        """Every photo of the true set and of each comparison set, in one step."""
        n = n_images_available if self.n is None else min(self.n, n_images_available)
        queries = n * (2 if self.compare == "clean" else 1 + self.n_external)
        return Needs(1, self.n_external, self.n or 2, queries, queries)

    def run(self, oracle: ScoreOracle, question: Question) -> VerifierResult:
        """Query both sets and run Welch's test."""
        label = require_label(question)
        j = label_index(oracle, label)
        n = check_images(oracle.n_images if self.n is None else self.n, oracle)
        others = [CLEAN] if self.compare == "clean" else list(range(1, self.n_external + 1))
        if self.compare == "externals":
            check_externals(self.n_external, oracle)
        try:
            scores = oracle.query([TRUE_MARK, *others], np.arange(n))[:, :, j]
        except BudgetExhausted:
            return budget_spent(
                self, oracle, label, level=self.level, calibration=CALIBRATION, rounds=[]
            )
        if not self.use_log and oracle.statistic == "log_prob":
            scores = np.exp(scores)
        t, p = welch_pvalue(scores[0], scores[1:].ravel())
        verdict = verdict_from_p(p, self.level)
        return verifier_result(
            self,
            oracle,
            label,
            verdict=verdict,
            p_value=p,
            level=self.level,
            calibration=CALIBRATION,
            rounds=[{"n_with": n, "n_without": n * len(others), "t": t, "p_value": p}],
            details={
                "statistic": "log-probability" if self.use_log else "probability",
                "compare": self.compare,
                "mean_with": float(scores[0].mean()),
                "mean_without": float(scores[1:].mean()),
            },
        )
