"""The paper's probability verifier V (Wenger et al., Algorithm 1), for reproduction.

Each of Q rounds samples n auxiliary images, queries F(x⊕t)[j] and F(x⊕t')[j] on the
same images (each blended once from the clean copy: the oracle does that) and runs a
paired one-sided t-test (alternative: larger with t). A round is significant when
p < λ; detected iff significant rounds ≥ ⌈δ·Q⌉ (the paper's pseudo-code line
``(c/N) > δ·Q`` is a typo; its text says "p < λ for δ·Q rounds").

Several external marks: the paper compares the true mark with each external mark; a
round counts only if the true mark beats *every* external (``combine="all"``, the
round's p is the largest of the per-external p-values — an intersection-union test);
``combine="mean"`` instead tests against the per-image mean of the externals.
The paper's defaults are n = 250, Q = 5, δ = 0.6, λ = 0.1 and one external mark
(2,500 queries).

Caution: λ does not bound this verifier's false-positive rate. Natural
mark-to-mark differences make each round significant far more often than λ on models
that never saw either mark; the measured rate is in
``benchmarks/verifier_error_rates.py``.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import stats

from audit.errors import BudgetExhausted, VerifierOptionError
from audit.queries.oracle import TRUE_MARK, ScoreOracle
from audit.verifiers.budget_spent import budget_spent
from audit.verifiers.exactness import not_exact
from audit.verifiers.inputs import (
    check_at_least,
    check_choice,
    check_externals,
    check_images,
    check_level,
    label_index,
    require_label,
)
from audit.verifiers.protocol import Needs, Question
from audit.verifiers.result import verifier_result
from audit.verifiers.verdict import Verdict, VerifierResult

COMBINES = ("all", "mean")

MEASURED_FALSE_POSITIVES = (
    "measured on clean simulated models, which never saw any mark, this method says "
    "'detected' in 44% of audits with its defaults (878 of 2,000; n = 250, Q = 5, "
    "λ = 0.1, one external mark; benchmarks/verifier_error_rates.py): a 'detected' from "
    "it is no evidence that the model learned your mark. Use the calibrated verifier "
    "for a verdict"
)
"""Printed with every result of this method (the figure is the benchmark's)."""

CALIBRATION = not_exact(
    "paired t (rounds)",
    "per-round paired t-tests between your mark and the external mark(s): two marks "
    "differ naturally even on models that never saw either, so λ is not a false-positive "
    "rate and the verdict has no p-value",
)


def paired_pvalue(a: np.ndarray, b: np.ndarray) -> float:
    """One-sided paired t-test p-value for mean(a − b) > 0 (1.0 when a == b exactly)."""
    diff = np.asarray(a, dtype=float) - np.asarray(b, dtype=float)
    if np.all(diff == diff[0]):  # zero variance: t is undefined
        return 0.0 if diff[0] > 0 else 1.0
    return float(stats.ttest_1samp(diff, 0.0, alternative="greater").pvalue)


class PaperVerifier:
    """Algorithm 1 of the paper: Q rounds of paired t-tests, detected iff ≥ ⌈δ·Q⌉ hit.

    Null hypothesis of each round's test: on label j, the model's scores of images
    carrying the true mark and of the same images carrying the external mark have
    equal means. A round's p-value is the chance of a paired difference this large
    if so. This is *not* "the model never saw the mark": two unseen marks differ too,
    so λ is not the verifier's false-positive rate. ``p_value`` is None; the evidence
    is the count of significant rounds.
    """

    name = "paper"

    def __init__(
        self,
        *,
        n: int = 250,
        rounds: int = 5,
        delta: float = 0.6,
        lam: float = 0.1,
        externals: int = 1,
        combine: str = "all",
        use_log: bool = False,
        seed: int = 0,
    ) -> None:
        check_choice(combine, COMBINES, "combine")
        check_at_least(rounds, 1, "rounds")
        if not 0.0 < delta <= 1.0:
            raise VerifierOptionError(f"delta must be in (0, 1], got {delta}")
        if externals < 1:
            raise VerifierOptionError(
                f"the paper verifier needs at least 1 external mark, got {externals}"
            )
        check_at_least(n, 2, "n (images per round)")
        self.n = n
        self.q = rounds
        self.delta = delta
        self.lam = check_level(lam, "lam")
        self.n_external = externals
        self.combine = combine
        self.use_log = use_log  # the paper tests probabilities; logs are an option
        self.seed = seed
        self.null_hypothesis = (
            "per round: label j's score has the same mean on the same auxiliary images "
            "with the true mark as with the external mark(s) (paired t-test; λ is a "
            "per-round level, not the verifier's false-positive rate)"
        )

    @property
    def required(self) -> int:
        """Significant rounds needed: ⌈δ·Q⌉."""
        return math.ceil(self.delta * self.q - 1e-9)

    def needs(self, n_images_available: int) -> Needs:
        """One round's queries; distinct pairs in the worst case (rounds may reuse
        images, which are not re-billed)."""
        marks = self.n_external + 1
        distinct_images = min(self.q * self.n, n_images_available)
        first = marks * min(self.n, n_images_available)
        return Needs(1, self.n_external, self.n, first, marks * distinct_images)

    def run(self, oracle: ScoreOracle, question: Question) -> VerifierResult:
        """Run Q rounds and count the significant ones."""
        label = require_label(question)
        j = label_index(oracle, label)
        check_images(self.n, oracle)
        check_externals(self.n_external, oracle)
        rng = np.random.default_rng(self.seed)
        marks = [TRUE_MARK, *range(1, self.n_external + 1)]
        rounds: list[dict] = []
        for q in range(self.q):
            images = rng.choice(oracle.n_images, size=self.n, replace=False)
            try:
                scores = oracle.query(marks, images)[:, :, j]
            except BudgetExhausted:
                return budget_spent(
                    self,
                    oracle,
                    label,
                    level=self.lam,
                    calibration=CALIBRATION,
                    rounds=rounds,
                    details={"warning": MEASURED_FALSE_POSITIVES},
                )
            if not self.use_log and oracle.statistic == "log_prob":
                scores = np.exp(scores)  # the paper's F(x⊕t)[j] is a probability
            if self.combine == "all":
                per_external = [paired_pvalue(scores[0], scores[k]) for k in range(1, len(marks))]
                p = max(per_external)
            else:
                per_external = []
                p = paired_pvalue(scores[0], scores[1:].mean(axis=0))
            rounds.append(
                {
                    "round": q + 1,
                    "n": self.n,
                    "p_value": p,
                    "p_per_external": per_external,
                    "mean_shift": float(np.mean(scores[0] - scores[1:].mean(axis=0))),
                    "significant": p < self.lam,
                }
            )
        hits = sum(r["significant"] for r in rounds)
        verdict = Verdict.DETECTED if hits >= self.required else Verdict.NOT_DETECTED
        return verifier_result(
            self,
            oracle,
            label,
            verdict=verdict,
            p_value=None,
            level=self.lam,
            calibration=CALIBRATION,
            rounds=rounds,
            details={
                "warning": MEASURED_FALSE_POSITIVES,
                "significant_rounds": hits,
                "required_rounds": self.required,
                "statistic": "log-probability" if self.use_log else "probability",
                "combine": self.combine,
            },
        )
