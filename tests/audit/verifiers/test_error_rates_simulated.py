"""A small simulation of error rates (the full run is benchmarks/verifier_error_rates.py).

Every method that claims an exact false-positive rate is held to it: on clean models
its detections must not exceed the (1 − 0.001) binomial quantile at the rate it claims
(``largest_count_consistent``), a tolerance computed from the number of audits, not
guessed. The rate claimed is h/(K + 1) with h = ⌊level · (K + 1)⌋: the level itself
for the defaults. Heavy-tailed natural mark effects (Student t, 3 df) are included:
they are where normal-theory calibrations failed (Holm over t p-values: 6.5% at a
nominal 1%). The paper's verifier, which claims nothing, accuses far more often than λ.
"""

from __future__ import annotations

from dataclasses import replace

import pytest

from audit.verifiers.exactness import tolerated
from audit.verifiers.protocol import Question
from audit.verifiers.registry import build_verifier
from audit.verifiers.simulation import detection_rate, largest_count_consistent
from providers.mock.classifier import MockSpec

POOL = {"n_images": 30, "n_external": 100}
HEAVY = replace(MockSpec(), tail_df=3.0)
AUDITS = 300


def claimed_rate(externals: int, level: float) -> float:
    """The exact false-positive rate of a rank test: h/(K + 1)."""
    return tolerated(externals, level) / (externals + 1)


@pytest.mark.slow
def test_paper_false_positive_rate_is_far_above_lambda() -> None:
    rate = detection_rate(lambda: build_verifier("paper", n=25), audits=150, **POOL)
    low, _ = rate.interval
    assert low > 0.2  # λ = 0.1 per round, yet clean models are accused this often


@pytest.mark.slow
@pytest.mark.parametrize(
    ("command", "method", "options", "oracle"),
    [
        ("probability", "calibrated", {}, {}),
        ("probability", "calibrated", {"level": 0.05}, {"spec": HEAVY}),
        ("probability", "sequential", {}, {"spec": HEAVY}),
        ("probability", "sequential", {"level": 0.05}, {}),
        ("rank", "rank", {}, {"statistic": "neg_rank", "top_k": 3}),
        ("rank", "sequential", {}, {"statistic": "neg_rank", "top_k": 3, "spec": HEAVY}),
        ("scan", "scan", {}, {"spec": HEAVY}),
    ],
)
def test_exact_methods_stay_within_the_rate_they_claim(
    command: str, method: str, options: dict, oracle: dict
) -> None:
    verifier = build_verifier(method, command=command, **options)
    claimed = claimed_rate(verifier.n_external, verifier.level)
    rate = detection_rate(
        lambda: build_verifier(method, command=command, **options),
        audits=AUDITS,
        **{**POOL, **oracle},
    )
    bound = largest_count_consistent(AUDITS, claimed)
    assert rate.detected <= bound, f"{rate.detected}/{AUDITS} clean audits detected"


@pytest.mark.slow
def test_distinguish_when_only_one_mark_was_learned() -> None:
    """The paired default said "distinguished" in 27% of such audits; the
    intersection-union of two exact rank tests is held to its level."""
    rate = detection_rate(
        lambda: build_verifier("distinguish"),
        audits=AUDITS,
        effect=5.0,  # t_j learned on j; t_k (oracle mark 1) learned on nothing
        question=Question("l0", "l3"),
        **{**POOL, "n_external": 101},
    )
    assert rate.detected <= largest_count_consistent(AUDITS, 0.01)


@pytest.mark.slow
@pytest.mark.parametrize("method", ["calibrated", "sequential"])
def test_true_positive_rate_on_strongly_learned_marks(method: str) -> None:
    rate = detection_rate(
        lambda: build_verifier(method), audits=100, effect=5.0, first_seed=10**6, **POOL
    )
    assert rate.rate >= 0.9
    median, _ = rate.query_quantiles()
    assert median <= 500
