"""The exact sequential test decides as the fixed rank test does, and stops early.

Decisions are compared with the fixed test (``calibrated`` with the rank calibration,
or ``rank`` on top-K output) on the same simulated models, across effects from none to
strong so that both verdicts and the borderline between them occur.
"""

from __future__ import annotations

import numpy as np
import pytest

from audit.verifiers.besag_clifford import SequentialVerifier, sequential_pvalue
from audit.verifiers.protocol import Question
from audit.verifiers.registry import build_verifier
from audit.verifiers.simulation import largest_count_consistent
from audit.verifiers.verdict import Verdict

EFFECTS = (0.0, 1.5, 2.0, 2.5, 3.0, 4.0)


def _pairs(make_oracle, fixed: str, sequential: str, command: str, **oracle: object):
    for index in range(60):
        effect = EFFECTS[index % len(EFFECTS)]
        options = {"n_images": 30, "n_external": 99, "seed": 100 + index, "effect": effect}
        a = build_verifier(fixed, command=command, seed=index).run(
            make_oracle(**options, **oracle), Question("l0")
        )
        b = build_verifier(sequential, command=command, seed=index).run(
            make_oracle(**options, **oracle), Question("l0")
        )
        yield a, b


@pytest.mark.parametrize(
    ("command", "fixed", "oracle"),
    [
        ("probability", "calibrated", {}),
        ("rank", "rank", {"statistic": "neg_rank", "top_k": 3}),
    ],
)
def test_same_decisions_as_the_fixed_k99_test_on_the_same_oracle(
    command: str, fixed: str, oracle: dict, make_oracle
) -> None:
    verdicts = set()
    saved = 0
    for full, early in _pairs(make_oracle, fixed, "sequential", command, **oracle):
        assert early.verdict is full.verdict, (full.p_value, early.p_value)
        assert (early.p_value <= 0.01) is (full.p_value <= 0.01)
        if not early.details["stopped_early"]:  # ran to the end: the fixed test's p
            assert early.p_value == pytest.approx(full.p_value)
        else:  # stopped at the h-th external scoring ≥ the mark: the full test cannot detect
            assert full.verdict is Verdict.NOT_DETECTED and early.p_value > 0.01
            assert full.rounds[0]["exceedances"] >= 1
        assert early.calibration == "sequential rank" and early.exact
        verdicts.add(full.verdict)
        saved += full.queries - early.queries
    assert verdicts == {Verdict.DETECTED, Verdict.NOT_DETECTED}
    assert saved > 0


@pytest.mark.parametrize("batch", [1, 7, 99])
def test_batch_size_changes_the_cost_not_the_decision(batch: int, make_oracle) -> None:
    for seed in range(12):
        effect = EFFECTS[seed % len(EFFECTS)]
        options = {"n_images": 30, "n_external": 99, "seed": seed, "effect": effect}
        reference = SequentialVerifier(seed=seed).run(make_oracle(**options), Question("l0"))
        other = SequentialVerifier(seed=seed, batch=batch).run(
            make_oracle(**options), Question("l0")
        )
        assert other.verdict is reference.verdict and other.p_value == reference.p_value


def test_clean_models_stop_early_and_learned_marks_use_every_external(make_oracle) -> None:
    clean = [
        SequentialVerifier(seed=seed).run(
            make_oracle(n_images=30, n_external=99, seed=seed), Question("l0")
        )
        for seed in range(30)
    ]
    queries = [r.queries for r in clean]
    assert np.median(queries) == 55  # the true mark and the first batch of 10, on 5 images
    assert all(r.verdict is Verdict.NOT_DETECTED for r in clean)
    marked = SequentialVerifier().run(
        make_oracle(n_images=30, n_external=99, effect=6.0), Question("l0")
    )
    assert marked.verdict is Verdict.DETECTED and marked.queries == 500
    assert marked.p_value == pytest.approx(0.01) and not marked.details["stopped_early"]
    assert [r["externals_queried"] for r in marked.rounds] == [*range(10, 100, 10), 99]


def test_the_true_marks_images_are_fixed_up_front(make_oracle) -> None:
    oracle = make_oracle(n_images=30, n_external=99, effect=6.0)
    result = SequentialVerifier(seed=3).run(oracle, Question("l0"))
    images = set(result.details["images"])
    assert len(images) == 5
    assert {b for (_, b) in oracle._asked} == images  # every mark on the same five images


class _Exchangeable:
    """An oracle of i.i.d. heavy-tailed statistics: every mark exchangeable, one label."""

    statistic = "neg_rank"  # used as given: no centring
    exchangeable = True

    def __init__(self, seed: int, marks: int = 100, images: int = 5) -> None:
        self.labels = ["j"]
        rng = np.random.default_rng(seed)
        self._values = rng.standard_t(3, size=(marks, images, 1))
        self.n_images, self.n_external = images, marks - 1
        self._asked: set[tuple[int, int]] = set()

    def query(self, marks, images) -> np.ndarray:
        self._asked |= {(int(m), int(b)) for m in marks for b in images}
        return self._values[np.asarray(marks)][:, np.asarray(images)]

    def queries_used(self) -> int:
        return len(self._asked)


def test_the_sequential_p_value_is_valid_under_exchangeability() -> None:
    """P(p ≤ a) ≤ a at every a, not only at the level (Besag–Clifford's p-value)."""
    audits = 1500
    p = np.array(
        [SequentialVerifier(seed=s).run(_Exchangeable(s), Question("j")).p_value
         for s in range(audits)]
    )  # fmt: skip
    for a in (0.01, 0.02, 0.05, 0.1, 0.25, 0.5):
        assert np.sum(p <= a + 1e-12) <= largest_count_consistent(audits, a), a


def test_sequential_pvalue_formula() -> None:
    assert sequential_pvalue(0, 99, 99, 1) == pytest.approx(0.01)  # ran to the end, c = 0
    assert sequential_pvalue(1, 4, 99, 1) == pytest.approx(0.25)  # h/L
    assert sequential_pvalue(1, 99, 99, 1) == pytest.approx(0.02)  # ≥ (h + 1)/(K + 1)
    assert sequential_pvalue(4, 199, 199, 5) == pytest.approx(0.025)
