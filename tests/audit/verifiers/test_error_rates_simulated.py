"""A small simulation of error rates (the full run is benchmarks/verifier_error_rates.py).

Clean models: the paper's verifier accuses far more often than its λ; the calibrated
and sequential verifiers stay within their nominal level (the 95% Clopper–Pearson
interval of the measured rate reaches down to the level). Marked models: detected.
"""

from __future__ import annotations

import pytest

from audit.verifiers.registry import build_verifier
from audit.verifiers.simulation import detection_rate

POOL = {"n_images": 30, "n_external": 100}


@pytest.mark.slow
def test_paper_false_positive_rate_is_far_above_lambda() -> None:
    rate = detection_rate(lambda: build_verifier("paper", n=25), audits=150, **POOL)
    low, _ = rate.interval
    assert low > 0.2  # λ = 0.1 per round, yet clean models are accused this often


@pytest.mark.slow
@pytest.mark.parametrize("method", ["calibrated", "sequential"])
@pytest.mark.parametrize("level", [0.01, 0.05])
def test_calibrated_false_positive_rate_within_nominal(method: str, level: float) -> None:
    rate = detection_rate(lambda: build_verifier(method, level=level), audits=300, **POOL)
    low, _ = rate.interval
    assert low <= level, f"{method}: {rate.detected}/300 clean audits detected at {level}"
    assert rate.rate <= 2 * level + 0.01


@pytest.mark.slow
@pytest.mark.parametrize("method", ["calibrated", "sequential"])
def test_true_positive_rate_on_strongly_learned_marks(method: str) -> None:
    rate = detection_rate(
        lambda: build_verifier(method), audits=100, effect=5.0, first_seed=10**6, **POOL
    )
    assert rate.rate >= 0.9
    median, _ = rate.query_quantiles()
    assert median <= 500
