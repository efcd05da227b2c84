"""Every verifier: registry, bad input, budget spent."""

from __future__ import annotations

import pytest

from audit.verifiers.protocol import Question
from audit.verifiers.registry import build_verifier, methods
from audit.verifiers.verdict import Verdict

SINGLE_LABEL = ["calibrated", "sequential", "paper", "rank", "unpaired"]


def test_registry() -> None:
    assert methods("probability") == ["calibrated", "sequential", "paper"]
    assert methods("rank") == ["rank", "calibrated", "sequential"]
    with pytest.raises(ValueError, match="unknown method 'bayes'"):
        build_verifier("bayes")
    with pytest.raises(ValueError, match="'unpaired' does not apply to `audit probability`"):
        build_verifier("unpaired", command="probability")
    with pytest.raises(ValueError, match="method 'paper'"):
        build_verifier("paper", externals_please=3)
    assert build_verifier("calibrated", n=None).n == 5  # None means "default"


def test_needs() -> None:
    calibrated = build_verifier("calibrated", n=10, externals=49, level=0.02)
    assert calibrated.needs(1000).max_queries == 500 == calibrated.needs(1000).first_queries
    assert calibrated.needs(6).max_queries == 300
    paper = build_verifier("paper").needs(10_000)
    assert (paper.first_queries, paper.max_queries) == (500, 2500)  # the paper's fixed cost
    sequential = build_verifier("sequential").needs(1000)
    assert (sequential.first_queries, sequential.max_queries) == (55, 500)  # 1 + 10 marks first
    assert build_verifier("distinguish").needs(1000).held_marks == 2


@pytest.mark.parametrize("method", SINGLE_LABEL)
def test_unknown_label(method: str, make_oracle) -> None:
    with pytest.raises(ValueError, match="label 'cat' is not one of the model's labels"):
        build_verifier(method).run(make_oracle(), Question("cat"))


@pytest.mark.parametrize("method", ["calibrated", "paper", "rank", "unpaired"])
def test_n_larger_than_the_pool(method: str, make_oracle) -> None:
    with pytest.raises(ValueError, match=r"n = 41 is larger than the auxiliary pool \(40"):
        build_verifier(method, n=41).run(make_oracle(), Question("l0"))


def test_not_enough_external_marks(make_oracle) -> None:
    with pytest.raises(ValueError, match="needs 99 external marks but the audit has 5"):
        build_verifier("calibrated").run(make_oracle(n_external=5), Question("l0"))
    with pytest.raises(ValueError, match="at least 2 external marks"):
        build_verifier("calibrated", externals=1, calibration="t")
    with pytest.raises(ValueError, match="batch"):
        build_verifier("sequential", batch=0)
    with pytest.raises(ValueError, match="level must be in"):
        build_verifier("calibrated", level=1.5)


@pytest.mark.parametrize(
    ("method", "options", "rounds_done"),
    [
        ("calibrated", {}, 0),
        ("paper", {"n": 20, "rounds": 5}, 2),  # 2 rounds of 2 × 20 fit in 90
        ("sequential", {}, 3),  # 55 + 50 + 50 fit in 200, a fourth step does not
    ],
)
def test_budget_spent_is_inconclusive_with_the_evidence_so_far(
    method: str, options: dict, rounds_done: int, make_oracle
) -> None:
    budget = 90 if method == "paper" else 200
    # A strong effect: no external beats the mark, so the sequential test cannot stop early.
    oracle = make_oracle(max_queries=budget, effect=6.0, n_images=400, n_external=100)
    result = build_verifier(method, **options).run(oracle, Question("l0"))
    assert result.verdict is Verdict.INCONCLUSIVE
    assert result.reason == "budget spent"
    assert len(result.rounds) == rounds_done
    assert result.queries == oracle.queries_used() <= budget
    assert result.to_json()["verdict"] == "inconclusive"
    assert result.calibration  # the calibration the decision would have used
