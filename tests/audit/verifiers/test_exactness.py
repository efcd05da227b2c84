"""Exactness is a claim: which calibration ran, whether it is exact, and impossible setups.

Each verifier's result names the calibration that produced its p-value; ``exact`` is
True only for a rank p-value over externals the oracle says are exchangeable with the
true mark. A configuration that can never reach its level is refused before any query.
"""

from __future__ import annotations

import pytest

from audit.errors import VerifierOptionError
from audit.verifiers.exactness import check_reachable, smallest_rank_p, tolerated
from audit.verifiers.protocol import Question
from audit.verifiers.registry import build_verifier

RANK_METHODS = [
    ("probability", "calibrated"),
    ("probability", "sequential"),
    ("rank", "rank"),
    ("rank", "calibrated"),
    ("rank", "sequential"),
    ("scan", "scan"),
    ("distinguish", "distinguish"),
]
QUESTIONS = {"scan": Question(), "distinguish": Question("l0", "l3")}


def test_tolerated_and_reachable() -> None:
    assert tolerated(99, 0.01) == 1 and tolerated(98, 0.01) == 0
    assert tolerated(19, 0.05) == 1 and tolerated(199, 0.01) == 2 and tolerated(99, 0.05) == 5
    assert smallest_rank_p(99) == pytest.approx(0.01)
    check_reachable(99, 0.01, "x")
    with pytest.raises(VerifierOptionError, match=r"can never detect.*at least 99 external"):
        check_reachable(49, 0.01, "x")


@pytest.mark.parametrize(
    ("command", "method", "options"),
    [
        # Each of these ran before, silently on a t calibration or never able to reject.
        ("probability", "calibrated", {"externals": 19}),
        ("probability", "sequential", {"externals": 49}),
        ("rank", "rank", {"externals": 19}),
        ("rank", "sequential", {"externals": 49}),
        ("scan", "scan", {"externals": 49}),
        ("distinguish", "distinguish", {"externals": 20}),
        ("probability", "calibrated", {"externals": 99, "level": 0.005}),
    ],
)
def test_a_level_the_rank_test_cannot_reach_is_refused_before_any_query(
    command: str, method: str, options: dict
) -> None:
    with pytest.raises(VerifierOptionError, match="can never detect"):
        build_verifier(method, command=command, **options)


@pytest.mark.parametrize(("command", "method"), RANK_METHODS)
def test_rank_p_values_are_exact_only_over_exchangeable_externals(
    command: str, method: str, make_oracle
) -> None:
    question = QUESTIONS.get(command, Question("l0"))
    results = {}
    for exchangeable in (True, False):
        oracle = make_oracle(n_images=60, n_external=101, seed=2, exchangeable=exchangeable)
        results[exchangeable] = build_verifier(method, command=command).run(oracle, question)
    exact, approximate = results[True], results[False]
    assert exact.exact and "exchangeable" in exact.exact_reason and exact.calibration
    assert not approximate.exact and "not draws of your mark's own family" in (
        approximate.exact_reason
    )
    for result in results.values():
        json = result.to_json()
        assert {"calibration", "exact", "exact_reason"} <= json.keys()


def test_calibrated_uses_t_only_without_exchangeability_or_when_asked(make_oracle) -> None:
    kept = build_verifier("calibrated").run(make_oracle(n_external=99), Question("l0"))
    assert (kept.calibration, kept.exact) == ("rank", True)
    assert kept.p_value == kept.rounds[0]["p_rank"]
    switched = build_verifier("calibrated").run(
        make_oracle(n_external=99, exchangeable=False), Question("l0")
    )
    assert (switched.calibration, switched.exact) == ("t", False)
    assert switched.p_value == switched.rounds[0]["p_t"]
    assert "t calibration was used" in switched.exact_reason
    asked = build_verifier("calibrated", externals=19, calibration="t").run(
        make_oracle(n_external=19), Question("l0")
    )
    assert (asked.calibration, asked.exact) == ("t", False)
    assert "as asked" in asked.exact_reason and "normal" in asked.exact_reason


def test_methods_that_never_claim_exactness_say_why(make_oracle) -> None:
    oracle = make_oracle(n_images=40, n_external=10)
    for method, options in [
        ("paper", {"n": 20, "rounds": 2}),
        ("unpaired", {"n": 20}),
        ("rank", {"test": "wilcoxon", "externals": 3, "n": 10}),
    ]:
        result = build_verifier(method, **options).run(oracle, Question("l0"))
        assert not result.exact and result.calibration and result.exact_reason, method


def test_paper_always_carries_its_measured_false_positive_warning(make_oracle) -> None:
    for effect, budget in [(0.0, None), (6.0, None), (0.0, 30)]:
        oracle = make_oracle(n_images=40, n_external=2, effect=effect, max_queries=budget)
        result = build_verifier("paper", n=20, rounds=3).run(oracle, Question("l0"))
        assert "44%" in result.details["warning"], result.verdict
