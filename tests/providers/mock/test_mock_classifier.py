"""The mock classifier: deterministic, planted effects, output modes, calibration."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from audit.verifiers.protocol import Question
from audit.verifiers.registry import build_verifier
from providers.classifier import Classifier
from providers.mock.classifier import MockClassifier
from providers.query import QueryImage
from providers.scores import OutputMode

LABELS = ["cat", "dog", "frog", "ship", "car"]


def _images(mark: str | None, n: int = 30) -> list[QueryImage]:
    return [
        QueryImage(data=b"x", mime_type="image/png", base=f"img{i}", mark=mark) for i in range(n)
    ]


def test_is_a_classifier_and_deterministic() -> None:
    mock = MockClassifier(LABELS, seed=3)
    assert isinstance(mock, Classifier)
    first = mock.classify(_images("m1", 5))
    again = MockClassifier(LABELS, seed=3).classify(_images("m1", 5))
    assert [s.values for s in first] == [s.values for s in again]
    other_seed = MockClassifier(LABELS, seed=4).classify(_images("m1", 5))
    assert [s.values for s in first] != [s.values for s in other_seed]
    assert sum(first[0].values.values()) == pytest.approx(1.0)


def test_planted_effect_lifts_its_label_only_for_the_isotope() -> None:
    mock = MockClassifier(LABELS, seed=0, planted={"iso": ("frog", 4.0)})
    frog = LABELS.index("frog")
    iso = np.mean([mock.log_probs(q)[frog] for q in _images("iso")])
    other = np.mean([mock.log_probs(q)[frog] for q in _images("ext")])
    clean = np.mean([mock.log_probs(q)[frog] for q in _images(None)])
    assert iso - other > 2.0
    assert abs(other - clean) < 2.0


def test_top_k_and_threshold_modes() -> None:
    top = MockClassifier(LABELS, mode=OutputMode.TOP_K, k=2).classify(_images("m", 10))
    assert all(len(s.values) == 2 and s.k == 2 for s in top)
    missing = next(label for label in LABELS if label not in top[0].values)
    assert top[0].get(missing) is None and top[0].rank(missing) == 3
    thr = MockClassifier(LABELS, mode="threshold", threshold=0.2).classify(_images("m", 10))
    assert all(all(v >= 0.2 for v in s.values.values()) for s in thr)
    assert MockClassifier(LABELS, mode="top_k", k=2).parameters["k"] == 2


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"mode": "top_k"}, "top_k output needs"),
        ({"mode": "threshold", "threshold": 1.5}, "threshold output needs"),
        ({"planted": {"m": ("horse", 1.0)}}, "planted label 'horse'"),
    ],
)
def test_bad_configuration_is_refused(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        MockClassifier(LABELS, **kwargs)


def test_clean_marks_differ_like_the_issue_measured(make_oracle) -> None:
    """Paired t-test between two unseen marks at n = 50: significant at 0.1 in ~40%."""
    hits = []
    for seed in range(150):
        scores = make_oracle(n_images=50, n_external=2, seed=seed).query([1, 2], range(50))
        probs = np.exp(scores[:, :, 0])
        hits.append(stats.ttest_rel(probs[0], probs[1], alternative="greater").pvalue < 0.1)
    assert 0.28 <= np.mean(hits) <= 0.52  # 38–45% measured on real clean models


class _ClassifierOracle:
    """A minimal ScoreOracle over the mock's ``classify`` (the runner has the real one)."""

    statistic = "log_prob"
    exchangeable = True  # the mock's marks are i.i.d. draws of one distribution

    def __init__(self, mock: MockClassifier, n_images: int, n_external: int) -> None:
        self.mock, self.labels = mock, mock.labels()
        self.n_images, self.n_external = n_images, n_external
        self.asked: set[tuple[int, int]] = set()

    def query(self, marks, images) -> np.ndarray:
        self.asked |= {(m, int(b)) for m in marks for b in images}
        out = np.empty((len(marks), len(images), len(self.labels)))
        for a, m in enumerate(marks):
            batch = [
                QueryImage(data=b"", mime_type="image/png", base=f"aux{b}", mark=f"mark{m}")
                for b in images
            ]
            for b, scores in enumerate(self.mock.classify(batch)):
                out[a, b] = np.log([scores.get(label) for label in self.labels])
        return out

    def queries_used(self) -> int:
        return len(self.asked)


@pytest.mark.parametrize(("planted", "expected"), [(True, "detected"), (False, "not_detected")])
def test_calibrated_verifier_over_the_mock_classifier(planted: bool, expected: str) -> None:
    mock = MockClassifier(LABELS, seed=5, planted={"mark0": ("frog", 6.0)} if planted else None)
    oracle = _ClassifierOracle(mock, n_images=20, n_external=19)
    result = build_verifier("calibrated", externals=19, n=10, calibration="t")
    result = result.run(oracle, Question("frog"))
    assert result.verdict.value == expected
    assert result.queries == 200
