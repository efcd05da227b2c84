"""The default verifier: the true mark ranked among external marks on the same images."""

from __future__ import annotations

import numpy as np

from audit.errors import BudgetExhausted, VerifierOptionError
from audit.queries.oracle import TRUE_MARK, ScoreOracle, surrogate_of
from audit.verifiers.budget_spent import budget_spent
from audit.verifiers.calibration import calibrated_evidence
from audit.verifiers.exactness import (
    CALIBRATIONS,
    RANK,
    check_reachable,
    choose,
    smallest_rank_p,
)
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
from audit.verifiers.mark_statistic import MarkStatistic
from audit.verifiers.protocol import Needs, Question
from audit.verifiers.result import verdict_from_p, verifier_result
from audit.verifiers.surrogate_evidence import (
    adjusted_evidence,
    check_enough_marks,
    regressors,
    with_surrogate,
)
from audit.verifiers.verdict import VerifierResult


class CalibratedVerifier:
    """K external marks as the null reference; one decision from (K + 1) · n queries.

    Null hypothesis: the model did not learn the person's mark: its effect on label
    j is one more draw from the distribution of the effects of K external marks of
    the same family (never posted), all measured on the same n auxiliary images.

    ``calibration="rank"`` (default): the rank p-value (1 + #{externals ≥ true}) /
    (K + 1), exact whatever the distribution of mark effects when the oracle's
    externals are exchangeable with the true mark; it cannot fall below 1/(K + 1),
    hence 99 externals by default, on 5 images (500 queries), and a level the rank
    test can never reach is refused here, before any query. When the oracle's
    externals are *not* exchangeable (e.g. a photo mark judged against procedural
    externals) no p-value is exact: the prediction-interval t calibration is used and
    the result says so (``exact`` False, with the reason). ``calibration="t"`` asks
    for the t calibration always (it reaches small p-values with fewer externals but
    assumes normal mark effects: measured above nominal when they are heavy-tailed,
    ``benchmarks/verifier_error_rates.py``). Detected iff p ≤ ``level``.
    ``statistic="rank"`` tests minus the rank of label j instead of its
    (centred) log-probability (``audit.verifiers.mark_statistic``).

    When the oracle carries surrogate scores (``audit.queries.oracle.surrogate_of``),
    each mark's statistic is first adjusted by what the person's own surrogate models
    predict for it, one symmetric fit over all K + 1 marks; the rank p-value stays
    exact (``audit.verifiers.surrogate_evidence``).
    """

    name = "calibrated"
    takes_surrogate = True

    def __init__(
        self,
        *,
        n: int = 5,
        externals: int = 99,
        level: float = 0.01,
        centre: bool = True,
        calibration: str = RANK,
        statistic: str = "auto",
        top_k: int | None = None,
        seed: int = 0,
    ) -> None:
        check_choice(calibration, CALIBRATIONS, "calibration")
        if externals < 2:
            raise VerifierOptionError(
                f"the calibrated test needs at least 2 external marks, got {externals}"
            )
        check_at_least(n, 2, "n (images)")
        self.n = n
        self.n_external = externals
        self.level = check_level(level)
        self.calibration = calibration
        if calibration == RANK:
            check_reachable(
                externals,
                self.level,
                "the rank-calibrated test",
                hint="or ask for the approximate t calibration (calibration t)",
            )
        self.statistic = MarkStatistic(statistic, centre, top_k)
        self.seed = seed
        self.null_hypothesis = (
            "the model did not learn the mark: its effect on label j is one more draw from "
            f"the distribution of the effects of {externals} external marks of the same "
            "family on the same images"
        )

    def needs(self, n_images_available: int) -> Needs:
        """(K + 1) marks × n images, all in one step."""
        queries = (self.n_external + 1) * min(self.n, n_images_available)
        return Needs(1, self.n_external, self.n, queries, queries)

    def run(self, oracle: ScoreOracle, question: Question) -> VerifierResult:
        """Query every mark on the same n images and test the true mark's statistic."""
        label = require_label(question)
        j = label_index(oracle, label)
        check_images(self.n, oracle)
        check_externals(self.n_external, oracle, minimum=2)
        surrogate = surrogate_of(oracle)
        if surrogate is not None:
            check_enough_marks(surrogate, self.n_external)
        calibration = choose(self.calibration, oracle, self.n_external)
        images = image_order(oracle.n_images, self.seed)[: self.n]
        marks = [TRUE_MARK, *range(1, self.n_external + 1)]
        try:
            scores = oracle.query(marks, images)
        except BudgetExhausted:
            return budget_spent(
                self, oracle, label, level=self.level, calibration=calibration, rounds=[]
            )
        per_image = self.statistic.per_image(scores, oracle.statistic, j)
        described = self.statistic.describe(oracle.statistic)
        adjusted: dict | None = None
        if surrogate is None:
            evidence = calibrated_evidence(per_image)
        else:
            # Local, not billed: the same pairs scored by the person's own models.
            predicted = regressors(surrogate, marks, images, label, self.statistic)
            result = adjusted_evidence(per_image, predicted, surrogate.description)
            evidence, adjusted = result.evidence, result.details
            calibration = with_surrogate(calibration)
            described += ", minus what your surrogate models predict for the mark"
        p = evidence.p_value(calibration.name)
        summary = {"stage": 1, "n": self.n, "externals": self.n_external, **evidence.summary()}
        details = {
            "statistic": described,
            "externals_compared": self.n_external,
            "images": [int(b) for b in np.asarray(images)],
            **evidence.details(),
            **({"surrogate": adjusted} if adjusted is not None else {}),
        }
        if calibration.name == RANK:
            details["p_floor"] = smallest_rank_p(self.n_external)
        return verifier_result(
            self,
            oracle,
            label,
            verdict=verdict_from_p(p, self.level),
            p_value=p,
            level=self.level,
            calibration=calibration,
            rounds=[summary],
            details=details,
        )
