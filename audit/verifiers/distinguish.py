"""The distinguisher V_D: do two held marks each point to their own label?

Oracle convention: ``TRUE_MARK`` is mark t_j (posted with label y_j) and mark
``OTHER_MARK`` is t_k (posted with label y_k); the other oracle marks are externals.
Distinguished iff t_j lifts y_j beyond the externals *and* t_k lifts y_k beyond them.
"""

from __future__ import annotations

import numpy as np

from audit.errors import BudgetExhausted, VerifierOptionError
from audit.queries.oracle import TRUE_MARK, ScoreOracle
from audit.verifiers.budget_spent import budget_spent
from audit.verifiers.calibration import calibrated_evidence
from audit.verifiers.exactness import (
    Calibration,
    check_reachable,
    not_exact,
    rank_calibration,
    smallest_rank_p,
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
from audit.verifiers.mark_statistic import MarkStatistic
from audit.verifiers.paper import paired_pvalue
from audit.verifiers.protocol import OTHER_MARK, Needs, Question
from audit.verifiers.result import verdict_from_p, verifier_result
from audit.verifiers.verdict import VerifierResult

PAIRED_N = 25  # the paired test's images when n is not given

PAIRED = not_exact(
    "paired t",
    "the paper's uncalibrated paired test, as asked (--externals 0): it compares the two "
    "marks with each other only, so it also detects natural mark-to-mark differences; "
    "its level is not a false-positive rate",
)


class Distinguisher:
    """V_D: an intersection-union of two exact rank tests (default), or the paper's.

    Calibrated form (``externals=K ≥ 1``, default 99): test A ranks t_j's statistic on
    y_j among the K externals' on y_j; test B ranks t_k's on y_k among the externals'
    on y_k (same images; the other held mark is in neither reference, since a learned
    t_k moves y_j and would bias A). Null hypothesis: t_j is exchangeable with the
    externals on y_j, or t_k is on y_k (at least one mark was not learned on its
    label). The reported p-value is max(p_A, p_B): both must reject, so the chance of
    "distinguished" when either null holds is at most ``level`` — exactly, when the
    externals are exchangeable with the held marks.
    Paired form (``externals=0``, only on request): the paper's two paired one-sided
    t-tests (y_j: t_j against t_k; y_k: t_k against t_j) on probabilities; not exact
    (two marks differ naturally even on models that never saw either).
    """

    name = "distinguish"

    def __init__(
        self,
        *,
        n: int | None = None,
        level: float = 0.01,
        externals: int = 99,
        centre: bool = True,
        statistic: str = "auto",
        top_k: int | None = None,
        seed: int = 0,
    ) -> None:
        check_at_least(externals, 0, "externals")
        self.n = (5 if externals else PAIRED_N) if n is None else n
        check_at_least(self.n, 2, "n (images)")
        self.level = check_level(level)
        self.n_external = externals
        if externals:
            check_reachable(externals, self.level, "the calibrated distinguisher")
        self.statistic = MarkStatistic(statistic, centre, top_k)
        self.seed = seed
        if externals:
            self.null_hypothesis = (
                "t_j is not learned on y_j (its effect there is exchangeable with the "
                f"effects of {externals} external marks), or t_k is not learned on y_k "
                "(intersection-union of two rank tests on the same images)"
            )
        else:
            self.null_hypothesis = (
                "t_j does not lift y_j more than t_k does, or t_k does not lift y_k more "
                "than t_j does (paired t-tests; not calibrated against natural "
                "mark-to-mark differences)"
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
        other_label = question.other_label
        j, k = label_index(oracle, label), label_index(oracle, other_label)
        if j == k:
            raise VerifierOptionError(f"the two labels must differ, got {label!r} twice")
        check_images(self.n, oracle)
        check_externals(OTHER_MARK, oracle)
        externals = [m for m in range(1, oracle.n_external + 1) if m != OTHER_MARK]
        if len(externals) < self.n_external:
            raise VerifierOptionError(
                f"distinguish needs {self.n_external} external marks besides your second "
                f"mark, the audit has {len(externals)}"
            )
        externals = externals[: self.n_external]
        calibration: Calibration = (
            rank_calibration(oracle, self.n_external, name="rank, both marks")
            if self.n_external
            else PAIRED
        )
        images = image_order(oracle.n_images, self.seed)[: self.n]
        try:
            scores = oracle.query([TRUE_MARK, OTHER_MARK, *externals], images)
        except BudgetExhausted:
            return budget_spent(
                self, oracle, label, level=self.level, calibration=calibration, rounds=[]
            )
        details: dict = {"other_label": other_label, "other_mark": OTHER_MARK}
        if self.n_external == 0:
            probs = np.exp(scores) if oracle.statistic == "log_prob" else scores
            p_j = paired_pvalue(probs[0, :, j], probs[1, :, j])
            p_k = paired_pvalue(probs[1, :, k], probs[0, :, k])
        else:
            # Each held mark against the externals only: rows 0 / 1 then the externals.
            on_j = self.statistic.per_image(scores, oracle.statistic, j)
            on_k = self.statistic.per_image(scores, oracle.statistic, k)
            evidence_j = calibrated_evidence(np.delete(on_j, 1, axis=0), true_row=0)
            evidence_k = calibrated_evidence(np.delete(on_k, 0, axis=0), true_row=0)
            p_j, p_k = evidence_j.p_rank, evidence_k.p_rank
            details |= {
                "statistic": self.statistic.describe(oracle.statistic),
                "externals_compared": self.n_external,
                "p_floor": smallest_rank_p(self.n_external),
                "images": [int(b) for b in np.asarray(images)],
                **evidence_j.details(),
                "other": evidence_k.summary(),
            }
        p = max(p_j, p_k)
        return verifier_result(
            self,
            oracle,
            label,
            verdict=verdict_from_p(p, self.level),
            p_value=p,
            level=self.level,
            calibration=calibration,
            rounds=[{"n": self.n, "p_label": p_j, "p_other_label": p_k, "p_value": p}],
            details=details,
        )
