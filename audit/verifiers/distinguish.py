"""The distinguisher V_D: do two held marks each point to their own label?

Oracle convention: ``TRUE_MARK`` is mark t_j (posted with label y_j) and mark
``other_mark`` (default 1) is t_k (posted with label y_k); any further external marks
serve as a calibration reference. Distinguished iff t_j lifts y_j more than t_k does
*and* t_k lifts y_k more than t_j does.
"""

from __future__ import annotations

import numpy as np

from audit.errors import BudgetExhausted, VerifierOptionError
from audit.queries.oracle import TRUE_MARK, ScoreOracle
from audit.verifiers.budget_spent import budget_spent
from audit.verifiers.calibration import calibrated_evidence
from audit.verifiers.inputs import (
    check_at_least,
    check_externals,
    check_images,
    check_level,
    image_order,
    label_index,
    require_label,
)
from audit.verifiers.paper import paired_pvalue
from audit.verifiers.protocol import OTHER_MARK, Needs, Question
from audit.verifiers.result import verdict_from_p, verifier_result
from audit.verifiers.verdict import VerifierResult


class Distinguisher:
    """V_D from the paper, with an optional calibrated variant.

    Paired form (``externals=0``, the paper's): two paired one-sided t-tests on the
    same n images — on y_j, t_j against t_k; on y_k, t_k against t_j. Null hypothesis
    (of each): the two marks give the label the same mean score. Calibrated form
    (``externals=K ≥ 1``): on y_j, t_j is judged against t_k and the K externals
    (prediction-interval t-test on centred log-probabilities); on y_k, t_k against
    t_j and the externals. Null hypothesis (of each): the mark's effect on its own
    label is one more draw from the other marks'. Either way the reported p-value is
    the larger of the two (an intersection-union test: both must reject, so the
    chance of "distinguished" when either null holds is at most ``level``).
    """

    name = "distinguish"

    def __init__(
        self, *, n: int = 25, level: float = 0.01, externals: int = 0, seed: int = 0
    ) -> None:
        check_at_least(n, 2, "n (images)")
        self.n = n
        self.level = check_level(level)
        self.n_external = externals
        self.seed = seed
        self.null_hypothesis = (
            "t_j does not lift y_j more than the other marks do, or t_k does not lift y_k "
            "more than the other marks do (intersection-union of two one-sided tests)"
        )

    def needs(self, n_images_available: int) -> Needs:
        """Both marks plus the externals, on n images, in one step."""
        queries = (2 + self.n_external) * min(self.n, n_images_available)
        return Needs(2, self.n_external, self.n, queries, queries)

    def run(self, oracle: ScoreOracle, question: Question) -> VerifierResult:
        """Test that TRUE_MARK points to j and ``OTHER_MARK`` to ``question.other_label``."""
        label = require_label(question)
        if question.other_label is None:
            raise VerifierOptionError("distinguish needs the second mark's label (y_k)")
        other_label, other_mark = question.other_label, OTHER_MARK
        j, k = label_index(oracle, label), label_index(oracle, other_label)
        if j == k:
            raise VerifierOptionError(f"the two labels must differ, got {label!r} twice")
        check_images(self.n, oracle)
        check_externals(other_mark, oracle)
        externals = [m for m in range(1, oracle.n_external + 1) if m != other_mark]
        if len(externals) < self.n_external:
            raise VerifierOptionError(
                f"distinguish needs {self.n_external} external marks besides mark "
                f"{other_mark}, the audit has {len(externals)}"
            )
        externals = externals[: self.n_external]
        images = image_order(oracle.n_images, self.seed)[: self.n]
        try:
            scores = oracle.query([TRUE_MARK, other_mark, *externals], images)
        except BudgetExhausted:
            return budget_spent(self, oracle, label, level=self.level, rounds=[])
        if self.n_external == 0:
            probs = np.exp(scores) if oracle.statistic == "log_prob" else scores
            p_j = paired_pvalue(probs[0, :, j], probs[1, :, j])
            p_k = paired_pvalue(probs[1, :, k], probs[0, :, k])
        else:
            centre = oracle.statistic == "log_prob"
            p_j = calibrated_evidence(scores, j, centre=centre, true_row=0).p_t
            p_k = calibrated_evidence(scores, k, centre=centre, true_row=1).p_t
        p = max(p_j, p_k)
        verdict = verdict_from_p(p, self.level)
        return verifier_result(
            self,
            oracle,
            label,
            verdict=verdict,
            p_value=p,
            level=self.level,
            rounds=[{"n": self.n, "p_label": p_j, "p_other_label": p_k, "p_value": p}],
            details={"other_label": other_label, "other_mark": other_mark},
        )
