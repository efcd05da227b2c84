"""The calibrated test with surrogate scores on its oracle: exact under H0, more power.

Simulated audits in the shape real ones take: each mark has a heavy-tailed natural
effect on label j, images differ in sensitivity, and the audited model may have
learned *another* member of the family (family transfer: every mark rises by how
"typical" it is). The surrogate sees the natural effects and part of the transfer
(a decoy surrogate), never the audited model's replies nor the true mark's isotope.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from audit.errors import VerifierOptionError
from audit.verifiers.protocol import Question
from audit.verifiers.registry import build_verifier
from audit.verifiers.verdict import Verdict

K = 19
N = 5
LEVEL = 0.05  # 1/(K + 1): the rank test's exact false-positive rate is 0.05
LABELS = ["j", "other"]


class ArraySurrogate:
    """``SurrogateScores`` over precomputed (models, marks, images, labels) scores."""

    statistic = "confidence"  # values taken as they are (no centring over labels)

    def __init__(self, scores: np.ndarray, groups: list[int]) -> None:
        self._scores = scores
        self.labels = LABELS
        self.groups = groups
        self.description = {"describe": "simulated surrogates"}

    def query(self, marks, images) -> np.ndarray:
        return self._scores[:, np.asarray(marks)][:, :, np.asarray(images)]


class ArrayOracle:
    """A ``ScoreOracle`` over precomputed (marks, images, labels) scores."""

    statistic = "confidence"
    exchangeable = True

    def __init__(self, scores: np.ndarray, surrogate: ArraySurrogate | None) -> None:
        self._scores = scores
        self.labels = LABELS
        self.n_external = scores.shape[0] - 1
        self.n_images = scores.shape[1]
        self.surrogate = surrogate
        self._asked: set[tuple[int, int]] = set()

    def query(self, marks, images) -> np.ndarray:
        self._asked |= {(int(m), int(b)) for m in marks for b in images}
        return self._scores[np.asarray(marks)][:, np.asarray(images)]

    def queries_used(self) -> int:
        return len(self._asked)


def _labels(values: np.ndarray) -> np.ndarray:
    """(..., images) values of label j → (..., images, 2) with a constant other label."""
    return np.stack([values, np.zeros_like(values)], axis=-1)


def _audit(rng: np.random.Generator, effect: float, informative: bool) -> tuple[ArrayOracle, ...]:
    natural = rng.standard_t(3, K + 1)
    typical = rng.standard_normal(K + 1)  # how much a member looks like "the family"
    sensitivity = rng.uniform(0.3, 2.0, N)
    target = (natural + 1.5 * typical)[:, None] * sensitivity
    target = target + 0.4 * rng.standard_t(4, (K + 1, N))
    target[0] += effect * sensitivity  # the isotope, on the audited model only
    if informative:
        decoys = [
            (0.8 * natural + typical)[:, None] + 0.7 * rng.standard_normal((K + 1, N))
            for _ in range(3)
        ]
        clean = 0.8 * natural[:, None] * sensitivity + 0.7 * rng.standard_normal((K + 1, N))
    else:  # surrogates that know nothing: exactness must not depend on them knowing
        decoys = [rng.standard_normal((K + 1, N)) for _ in range(3)]
        clean = rng.standard_normal((K + 1, N))
    surrogate = ArraySurrogate(_labels(np.stack([*decoys, clean])), [0, 0, 0, 1])
    return ArrayOracle(_labels(target), surrogate), ArrayOracle(_labels(target), None)


def _detections(effect: float, audits: int, informative: bool, seed: int) -> tuple[int, int]:
    rng = np.random.default_rng(seed)
    verifier = build_verifier("calibrated", externals=K, n=N, level=LEVEL)
    adjusted = raw = 0
    for _ in range(audits):
        with_surrogate, without = _audit(rng, effect, informative)
        result = verifier.run(with_surrogate, Question("j"))
        assert result.exact and "surrogate" in result.exact_reason
        adjusted += result.verdict is Verdict.DETECTED
        raw += verifier.run(without, Question("j")).verdict is Verdict.DETECTED
    return adjusted, raw


@pytest.mark.parametrize("informative", [True, False])
def test_false_positive_rate_stays_at_the_level(informative: bool) -> None:
    audits = 2000
    adjusted, raw = _detections(0.0, audits, informative, seed=11)
    # Exact: P(detect | H0) = 1/(K + 1) = 0.05. One-sided binomial test at 0.001: a
    # level-breaking adjustment (one that fits the externals and treats the true mark
    # apart, say) rises well above this.
    bound = stats.binom.ppf(0.999, audits, LEVEL)
    assert adjusted <= bound, (adjusted, bound)
    assert raw <= bound
    assert adjusted >= stats.binom.ppf(0.001, audits, LEVEL)  # not vacuous either


def test_surrogates_buy_power_on_family_transfer() -> None:
    adjusted, raw = _detections(3.0, 300, informative=True, seed=12)
    assert adjusted > raw + 30, (adjusted, raw)


def test_result_names_the_surrogate_and_the_raw_statistics() -> None:
    oracle, _ = _audit(np.random.default_rng(3), 3.0, informative=True)
    verifier = build_verifier("calibrated", externals=K, n=N, level=LEVEL)
    result = verifier.run(oracle, Question("j"))
    adjusted = result.details["surrogate"]
    assert adjusted["describe"] == "simulated surrogates" and adjusted["regressors"] == 2
    assert len(adjusted["raw_external_statistics"]) == K and len(adjusted["predicted"]) == K + 1
    assert "surrogate" in result.details["statistic"]
    assert result.queries == (K + 1) * N  # the surrogate's scores are not queries


def test_methods_that_cannot_use_a_surrogate_refuse_it() -> None:
    oracle, _ = _audit(np.random.default_rng(4), 0.0, informative=True)
    sequential = build_verifier("sequential", externals=K, n=N, level=LEVEL)
    with pytest.raises(VerifierOptionError, match="sequential test cannot adjust"):
        sequential.run(oracle, Question("j"))
    assert build_verifier("rank", command="rank").takes_surrogate  # type: ignore[attr-defined]
    paired = build_verifier("rank", command="rank", test="t")
    assert not paired.takes_surrogate  # type: ignore[attr-defined]
    small = build_verifier("calibrated", externals=3, n=N, level=0.25)
    with pytest.raises(VerifierOptionError, match="needs at least 4 external marks"):
        small.run(ArrayOracle(oracle._scores[:4], oracle.surrogate), Question("j"))
