"""One contract over every registered verifier: what it needs, what it runs, what it says."""

from __future__ import annotations

import pytest

from audit.verifiers.protocol import Question
from audit.verifiers.registry import METHODS, MethodSpec, build_verifier, commands, methods
from audit.verifiers.verdict import Verdict

QUESTIONS = {
    "scan": Question(),
    "distinguish": Question("l0", "l3"),
}


@pytest.mark.parametrize("spec", METHODS, ids=lambda s: f"{s.command}-{s.name}")
def test_every_verifier_plans_runs_and_reports(spec: MethodSpec, make_oracle) -> None:
    verifier = build_verifier(spec.name, command=spec.command)
    assert verifier.name == spec.name and spec.summary
    assert "mark" in verifier.null_hypothesis
    needs = verifier.needs(250)
    assert needs.held_marks in (1, 2) and needs.externals >= 0
    assert 0 < needs.first_queries <= needs.max_queries
    oracle = make_oracle(n_images=250, n_external=needs.externals + 1, seed=3)
    result = verifier.run(oracle, QUESTIONS.get(spec.command, Question("l0")))
    assert result.method == spec.name and result.null_hypothesis == verifier.null_hypothesis
    assert result.verdict in (Verdict.DETECTED, Verdict.NOT_DETECTED)
    assert 0 < result.queries <= needs.max_queries
    assert result.p_value is None or 0 < result.p_value <= 1
    assert 0 < result.level < 1 and result.to_json()["verdict"] == result.verdict.value
    assert result.calibration and result.exact_reason  # what produced p, and how exact
    assert not result.exact or oracle.exchangeable


def test_every_command_has_one_default_method() -> None:
    for command in commands():
        specs = [s for s in METHODS if s.command == command]
        assert sum(s.default for s in specs) == 1, command
        assert methods(command)[0] == next(s.name for s in specs if s.default)
