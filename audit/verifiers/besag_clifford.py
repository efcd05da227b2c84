"""The exact sequential test (Besag & Clifford, 1991): the rank test that stops early.

The fixed rank test queries the true mark and K externals on the same n images and
detects iff p = (1 + c)/(K + 1) ≤ level, where c = #{externals scoring ≥ the true
mark}. With h = ⌊level · (K + 1)⌋ that is: detected iff c ≤ h − 1.

The sequential test fixes the n images and queries the true mark on them first, then
queries the externals in a random order, a batch at a time, and stops with "not
detected" as soon as h externals have scored at least as high as the true mark.

**Same decisions as the fixed test, on the same oracle.** Each mark's statistic
depends only on its own replies on the fixed images (``mark_statistic``), so an
external scores ≥ the true mark in the sequential test exactly when it does in the
fixed one. If c ≥ h, the h-th such external is met at some point of the order and
the sequential test stops with "not detected" — as the fixed test decides. If
c ≤ h − 1 it never meets h of them, examines all K externals and detects, with
the same c and the same p as the fixed test. The order changes only *when* it stops,
never *what* it decides. Hence the false-positive rate is exactly the fixed test's:
P(c ≤ h − 1 | H0) = h/(K + 1) ≤ level when the marks are exchangeable (ties only
lower it), while on clean models the h-th higher external usually comes within the
first batch.

**p-value.** When it runs to the end, p = (1 + c)/(K + 1), the fixed test's. When it
stops at the L-th external examined, p = max(h/L, (h + 1)/(K + 1)): h/L is Besag and
Clifford's sequential p-value (P(p ≤ a) ≤ a under exchangeability), and the fixed
test's p after h exceedances is at least (h + 1)/(K + 1); taking the larger keeps it
valid and makes p ≤ level exactly when the test detects.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from audit.errors import BudgetExhausted, VerifierOptionError
from audit.queries.oracle import TRUE_MARK, ScoreOracle, surrogate_of
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
from audit.verifiers.mark_statistic import MarkStatistic
from audit.verifiers.protocol import Needs, Question
from audit.verifiers.result import verdict_from_p, verifier_result
from audit.verifiers.verdict import VerifierResult

NO_SURROGATE = (
    "the sequential test cannot adjust by surrogates: the adjustment is one fit over all "
    "K + 1 marks' replies, and the sequential test decides before it has them all (a fit "
    "on the marks seen so far would depend on the order they came in, and the p-value "
    "would no longer be exact). Use the default calibrated test with --surrogate, or the "
    "sequential test without it"
)
"""Why ``--method sequential --surrogate`` is refused. A valid alternative, not built:
subtract a surrogate prediction whose coefficients are fixed before any reply (say, the
surrogate's own statistic times a constant): each mark's adjusted statistic then
depends on its own replies only, as the early stop needs."""


def external_order(externals: int, seed: int) -> np.ndarray:
    """A seeded random order of the external marks 1..K (independent of the image order)."""
    return 1 + np.random.default_rng([seed, 0xBE5A6]).permutation(externals)


def sequential_pvalue(exceeded: int, examined: int, externals: int, tolerance: int) -> float:
    """The test's p-value after ``examined`` externals of which ``exceeded`` scored ≥ the true
    mark: the fixed test's when all K were examined, else max(h/L, (h + 1)/(K + 1))."""
    if exceeded >= tolerance:
        return max(tolerance / examined, (tolerance + 1) / (externals + 1))
    return (1 + exceeded) / (externals + 1)


class ExceedanceSearch:
    """The sequential test's queries: the true mark, then externals until h score ≥ it.

    ``per_image`` maps the oracle's scores of some marks to each mark's values on the
    images (marks × images); a mark's statistic is the mean of its row, as the fixed
    test computes it. What has been seen stays on the object when the budget runs out.
    """

    def __init__(self, tolerance: int) -> None:
        self.tolerance = tolerance
        self.rounds: list[dict] = []
        self.true_values = np.empty(0)
        self.x0 = 0.0
        self.seen: list[np.ndarray] = []  # every external row queried, shown in reports
        self.exceeded = 0
        self.examined = 0

    def run(
        self,
        oracle: ScoreOracle,
        images: np.ndarray,
        order: np.ndarray,
        batch: int,
        per_image: Callable[[np.ndarray], np.ndarray],
    ) -> None:
        """Query batches of ``order`` (the true mark with the first) until the decision is
        known; raises BudgetExhausted when the budget runs out first."""
        started = False
        for start in range(0, len(order), batch):
            marks = [int(m) for m in order[start : start + batch]]
            scores = oracle.query(marks if started else [TRUE_MARK, *marks], images)
            values = np.asarray(per_image(scores), dtype=float)
            means = values.mean(axis=1)  # as the fixed test computes them, row by row
            if not started:
                started = True
                self.true_values, self.x0 = values[0], float(means[0])
                values, means = values[1:], means[1:]
            for row, mean in zip(values, means, strict=True):
                self.seen.append(row)
                if self.exceeded < self.tolerance:  # L: the position of the h-th exceedance
                    self.examined += 1
                    self.exceeded += bool(mean >= self.x0)
            self.rounds.append(
                {
                    "step": len(self.rounds) + 1,
                    "externals_queried": start + len(marks),
                    "externals_examined": self.examined,
                    "exceedances": self.exceeded,
                    "queries": oracle.queries_used(),
                }
            )
            if self.exceeded >= self.tolerance:
                return


class SequentialVerifier:
    """The rank test against K externals, stopping at the h-th external scoring ≥ the mark.

    Null hypothesis: as for ``calibrated`` — the model did not learn the mark, so its
    effect on label j is one more draw from the distribution of the effects of the
    external marks (same family, same images). Decisions are identical to the fixed
    rank test with the same K, n, images and level (see the module docstring), so its
    false-positive rate is exact when the oracle's externals are exchangeable with the
    true mark; otherwise the result is labelled approximate. ``batch`` externals are
    queried per step (each on the n images). Works on log-probabilities and, with
    ``statistic="rank"`` or a rank oracle, on minus the rank of label j.
    """

    name = "sequential"

    def __init__(
        self,
        *,
        n: int = 5,
        externals: int = 99,
        batch: int = 10,
        level: float = 0.01,
        centre: bool = True,
        statistic: str = "auto",
        top_k: int | None = None,
        seed: int = 0,
    ) -> None:
        check_at_least(n, 2, "n (images)")
        check_at_least(externals, 1, "externals")
        check_at_least(batch, 1, "batch (externals per step)")
        self.n = n
        self.n_external = externals
        self.batch = min(batch, externals)
        self.level = check_level(level)
        check_reachable(externals, self.level, "the sequential rank test")
        self.tolerance = tolerated(externals, self.level)
        self.statistic = MarkStatistic(statistic, centre, top_k)
        self.seed = seed
        self.null_hypothesis = (
            "the model did not learn the mark: its effect on label j is one more draw from "
            f"the distribution of the effects of {externals} external marks of the same "
            "family on the same images (rank test, stopped as soon as its decision is known)"
        )

    def needs(self, n_images_available: int) -> Needs:
        """First step: the true mark and one batch; worst case every mark, on n images."""
        n = min(self.n, n_images_available)
        return Needs(1, self.n_external, self.n, (1 + self.batch) * n, (1 + self.n_external) * n)

    def run(self, oracle: ScoreOracle, question: Question) -> VerifierResult:
        """Query the true mark, then externals in random order until the decision is known."""
        if surrogate_of(oracle) is not None:
            raise VerifierOptionError(NO_SURROGATE)
        label = require_label(question)
        j = label_index(oracle, label)
        check_images(self.n, oracle)
        check_externals(self.n_external, oracle)
        calibration = rank_calibration(oracle, self.n_external, name="sequential rank")
        images = image_order(oracle.n_images, self.seed)[: self.n]
        order = external_order(self.n_external, self.seed)
        search = ExceedanceSearch(self.tolerance)
        try:
            search.run(
                oracle,
                images,
                order,
                self.batch,
                lambda scores: self.statistic.per_image(scores, oracle.statistic, j),
            )
        except BudgetExhausted:
            return budget_spent(
                self, oracle, label, level=self.level, calibration=calibration, rounds=search.rounds
            )
        h, k = self.tolerance, self.n_external
        p = sequential_pvalue(search.exceeded, search.examined, k, h)
        verdict = verdict_from_p(p, self.level)
        externals = np.array(search.seen)
        true_values = search.true_values
        return verifier_result(
            self,
            oracle,
            label,
            verdict=verdict,
            p_value=p,
            level=self.level,
            calibration=calibration,
            rounds=search.rounds,
            details={
                "statistic": self.statistic.describe(oracle.statistic),
                "externals_planned": k,
                "externals_compared": search.examined,  # L: up to the h-th exceedance
                "externals_queried": len(search.seen),
                "tolerated": h,
                "stopped_early": search.examined < k,
                "p_floor": smallest_rank_p(k),
                "images": [int(b) for b in np.asarray(images)],
                "true_statistic": search.x0,
                "external_statistics": [float(v) for v in externals.mean(axis=1)],
                "per_image_true": [float(v) for v in true_values],
                "per_image_externals": [[float(v) for v in row] for row in externals],
                "per_image_shift": [float(v) for v in true_values - externals.mean(axis=0)],
            },
        )
