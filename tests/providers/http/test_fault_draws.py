"""The seeded fault core shared by the face engine and the fakes."""

from __future__ import annotations

from collections import Counter

import pytest

from providers.http.fault_draws import FaultDraws


def _sequence(draws: FaultDraws, n: int) -> list[str | None]:
    return [draws.draw() for _ in range(n)]


def test_the_same_seed_gives_the_same_faults_at_the_set_rates() -> None:
    rates = {"slow": 0.2, "drop": 0.1}
    first = _sequence(FaultDraws(rates, seed=5), 4000)
    assert first == _sequence(FaultDraws(rates, seed=5), 4000)
    assert first != _sequence(FaultDraws(rates, seed=6), 4000)
    counts = Counter(first)
    assert abs(counts["slow"] / 4000 - 0.2) < 0.03 and abs(counts["drop"] / 4000 - 0.1) < 0.03


def test_skip_limit_and_a_shared_counter() -> None:
    injected: Counter[str] = Counter({"slow": 3})
    draws = FaultDraws({"slow": 1.0}, skip=2, limit=3, injected=injected)
    assert _sequence(draws, 7) == [None, None, "slow", "slow", "slow", None, None]
    assert injected["slow"] == 6 and draws.injected is injected


@pytest.mark.parametrize(
    ("rates", "options"),
    [
        ({"a": 0.7, "b": 0.5}, {}),
        ({"a": -0.1}, {}),
        ({"a": 0.1}, {"skip": -1}),
        ({}, {"limit": -2}),
    ],
)
def test_bad_plans_are_refused(rates: dict[str, float], options: dict) -> None:
    with pytest.raises(ValueError, match="must"):
        FaultDraws(rates, **options)
