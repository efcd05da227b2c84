"""Confidences of threshold output (0 when a tag did not come back) take only the rank
calibration: the t calibration is refused before any query, and never chosen for them."""

from __future__ import annotations

import pytest

from audit.errors import VerifierOptionError
from audit.verifiers.protocol import Question
from audit.verifiers.registry import build_verifier
from audit.verifiers.simulated_oracle import SimulatedOracle
from providers.mock.classifier import STRONG_EFFECT


def tagger(**options: object) -> SimulatedOracle:
    return SimulatedOracle(
        statistic="confidence", threshold=0.1, n_external=99, n_images=20, **options
    )


def test_the_t_calibration_is_refused_on_confidences_before_any_query() -> None:
    oracle = tagger(effect=STRONG_EFFECT)
    verifier = build_verifier("calibrated", externals=99, calibration="t")
    with pytest.raises(VerifierOptionError) as refused:
        verifier.run(oracle, Question("l0"))
    message = str(refused.value)
    assert "zero-inflated" in message and "4.75%" in message and "calibration rank" in message
    assert oracle.queries_used() == 0


def test_confidences_keep_the_rank_calibration_when_externals_are_not_exchangeable() -> None:
    result = build_verifier("calibrated", externals=99).run(
        tagger(effect=STRONG_EFFECT, exchangeable=False), Question("l0")
    )
    assert (result.calibration, result.exact) == ("rank", False)
    assert result.p_value * 100 == pytest.approx(round(result.p_value * 100))  # a rank p


def test_other_statistics_still_take_the_t_calibration() -> None:
    full = SimulatedOracle(n_external=19, n_images=20, effect=STRONG_EFFECT)
    result = build_verifier("calibrated", externals=19, calibration="t").run(full, Question("l0"))
    assert (result.calibration, result.exact) == ("t", False)
