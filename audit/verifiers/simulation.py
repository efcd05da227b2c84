"""Error rates of a verifier measured on simulated models (``SimulatedOracle``).

Each simulated audit is a fresh model with fresh marks (seed ``first_seed + i``).
Clean models (effect 0) give the false-positive rate; models with a planted effect
give the true-positive rate. Rates come with exact Clopper–Pearson intervals.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from scipy import stats

from audit.verifiers.protocol import Question, Verifier
from audit.verifiers.simulated_oracle import SimulatedOracle
from audit.verifiers.verdict import Verdict


def clopper_pearson(hits: int, trials: int, confidence: float = 0.95) -> tuple[float, float]:
    """Exact two-sided binomial confidence interval for hits / trials."""
    if trials <= 0:
        raise ValueError("trials must be positive")
    tail = (1.0 - confidence) / 2.0
    low = 0.0 if hits == 0 else float(stats.beta.ppf(tail, hits, trials - hits + 1))
    high = 1.0 if hits == trials else float(stats.beta.ppf(1 - tail, hits + 1, trials - hits))
    return low, high


def largest_count_consistent(audits: int, rate: float, *, miss: float = 1e-3) -> int:
    """The largest number of detections among ``audits`` that a method whose true rate
    is ``rate`` exceeds with probability at most ``miss``: the (1 − miss) binomial quantile.

    A simulation test asserting "detections ≤ this" fails an exact method with
    probability ≤ ``miss``, and fails a method whose rate is well above ``rate``.
    """
    return int(stats.binom.ppf(1.0 - miss, audits, rate))


@dataclass
class RateEstimate:
    """How often a verifier said "detected", and what it cost."""

    audits: int
    detected: int
    inconclusive: int
    queries: list[int] = field(repr=False)
    verdicts: list[bool] = field(default_factory=list, repr=False)  # detected, audit by audit

    @property
    def rate(self) -> float:
        """Share of audits that said "detected"."""
        return self.detected / self.audits

    @property
    def interval(self) -> tuple[float, float]:
        """95% Clopper–Pearson interval of ``rate``."""
        return clopper_pearson(self.detected, self.audits)

    def query_quantiles(self) -> tuple[float, float]:
        """Median and 95th percentile of distinct queries per audit."""
        q = np.asarray(self.queries)
        return float(np.median(q)), float(np.percentile(q, 95))

    def to_json(self) -> dict:
        """Rate, interval and query quantiles."""
        median, p95 = self.query_quantiles()
        low, high = self.interval
        return {
            "audits": self.audits,
            "detected": self.detected,
            "inconclusive": self.inconclusive,
            "rate": self.rate,
            "ci95": [low, high],
            "queries_median": median,
            "queries_p95": p95,
        }


def detection_rate(
    make_verifier: Callable[[], Verifier],
    *,
    audits: int,
    effect: float = 0.0,
    first_seed: int = 0,
    question: Question | None = None,
    **oracle_options: Any,
) -> RateEstimate:
    """Run ``audits`` simulated audits and count detections.

    The planted ``effect`` (0: a clean model) is on label "l0", the question's label
    (default ``Question("l0")``; a scan ignores it, a distinguisher's second label is
    ``question.other_label``).
    """
    question = question or Question("l0")
    inconclusive = 0
    queries: list[int] = []
    verdicts: list[bool] = []
    for i in range(audits):
        oracle = SimulatedOracle(effect=effect, seed=first_seed + i, **oracle_options)
        result = make_verifier().run(oracle, question)
        verdicts.append(result.verdict is Verdict.DETECTED)
        inconclusive += result.verdict is Verdict.INCONCLUSIVE
        queries.append(result.queries)
    return RateEstimate(audits, sum(verdicts), inconclusive, queries, verdicts)
