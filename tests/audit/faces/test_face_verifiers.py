"""The face-match verifiers on synthetic oracles: exactness, early stop, same decisions."""

from __future__ import annotations

import numpy as np
import pytest

from audit.errors import BudgetExhausted, VerifierOptionError
from audit.faces.calibrated import FaceCalibratedVerifier
from audit.faces.sequential import FaceSequentialVerifier
from audit.verifiers.protocol import Question
from audit.verifiers.verdict import Verdict

LABEL = "posted_copy"


class ArrayOracle:
    """Per-(mark, probe) values from an array; counts distinct pairs asked."""

    statistic = "face_match"

    def __init__(self, values: np.ndarray, *, exchangeable: bool = True, cap: int | None = None):
        self.labels = [LABEL]
        self.values = values
        self.n_external = values.shape[0] - 1
        self.n_images = values.shape[1]
        self.exchangeable = exchangeable
        self.cap = cap
        self.asked: set[tuple[int, int]] = set()

    def query(self, marks, images) -> np.ndarray:
        pairs = {(int(m), int(b)) for m in marks for b in images} - self.asked
        if self.cap is not None and len(self.asked) + len(pairs) > self.cap:
            raise BudgetExhausted("budget spent")
        self.asked |= pairs
        return self.values[np.ix_(list(marks), list(images))][..., None]

    def queries_used(self) -> int:
        return len(self.asked)


def _null(seed: int, k: int = 19, n: int = 3) -> np.ndarray:
    return np.random.default_rng(seed).normal(size=(k + 1, n))


def test_posted_copy_found_is_detected_at_the_floor() -> None:
    values = _null(0, k=99, n=5)
    values[0] += 10.0  # the true mark's probes are the enrolled copies themselves
    for verifier in (FaceCalibratedVerifier(), FaceSequentialVerifier()):
        oracle = ArrayOracle(values)
        result = verifier.run(oracle, Question(LABEL))
        assert result.verdict is Verdict.DETECTED and result.p_value == pytest.approx(0.01)
        assert result.exact and oracle.queries_used() == 500
        assert "no copy of your photos carrying your mark" in result.null_hypothesis


def test_sequential_decides_like_the_fixed_test_and_stops_early() -> None:
    searched = []
    for seed in range(200):
        values = _null(seed)
        fixed = FaceCalibratedVerifier(n=3, externals=19, level=0.05).run(
            ArrayOracle(values), Question(LABEL)
        )
        oracle = ArrayOracle(values)
        early = FaceSequentialVerifier(n=3, externals=19, level=0.05).run(oracle, Question(LABEL))
        assert early.verdict == fixed.verdict, seed
        if early.verdict is Verdict.DETECTED:
            assert early.p_value == fixed.p_value
        searched.append(oracle.queries_used())
    # Under the null the first external beating the mark comes early: ~H(20) ≈ 3.6 marks.
    assert np.mean(searched) < 0.4 * 20 * 3


def test_false_positive_rate_is_the_level_under_exchangeable_marks() -> None:
    detected = sum(
        FaceSequentialVerifier(n=3, externals=19, level=0.05)
        .run(ArrayOracle(_null(10_000 + seed)), Question(LABEL))
        .verdict
        is Verdict.DETECTED
        for seed in range(2000)
    )
    assert 0.035 <= detected / 2000 <= 0.065  # exactly 0.05 in expectation


def test_ties_stop_at_the_first_external() -> None:
    oracle = ArrayOracle(np.zeros((100, 5)))  # nothing matched any mark
    result = FaceSequentialVerifier().run(oracle, Question(LABEL))
    assert result.verdict is Verdict.NOT_DETECTED and result.p_value == 1.0
    assert oracle.queries_used() == 10 and result.details["stopped_early"]


def test_not_exchangeable_is_labelled_approximate() -> None:
    values = _null(1, k=99, n=5)
    values[0] += 10.0
    result = FaceCalibratedVerifier().run(ArrayOracle(values, exchangeable=False), Question(LABEL))
    assert result.verdict is Verdict.DETECTED and not result.exact
    assert "approximate" in result.exact_reason


def test_budget_spent_is_inconclusive_never_over() -> None:
    values = _null(2, k=99, n=5)
    values[0] += 10.0
    oracle = ArrayOracle(values, cap=120)
    result = FaceSequentialVerifier().run(oracle, Question(LABEL))
    assert result.verdict is Verdict.INCONCLUSIVE and result.reason == "budget spent"
    assert oracle.queries_used() <= 120


def test_unreachable_level_is_refused() -> None:
    with pytest.raises(VerifierOptionError, match="can never detect"):
        FaceCalibratedVerifier(externals=19, level=0.01)
    with pytest.raises(VerifierOptionError, match="can never detect"):
        FaceSequentialVerifier(externals=9, level=0.05)
