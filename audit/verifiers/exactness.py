"""Which calibration produced a p-value, and whether that p-value is exact.

A rank p-value is exact when, under H0, the true mark is exchangeable with the
external marks it is ranked among (``ScoreOracle.exchangeable``): then its rank is
uniform among the K + 1 marks and P(p ≤ a) ≤ a for every a, whatever the distribution
of the marks' natural effects. Everything else (a t calibration, a paired test, a
rank over externals of another family) is approximate, and says why.

A rank test over K externals cannot give a p-value below 1/(K + 1), so a level below
that can never be reached: such a configuration is refused before any query.

On threshold output scored by confidence (a tag's confidence, 0 when the service did not
return it) only the rank calibration is valid: the values are zero-inflated, nothing
like the normal draws the t calibration assumes, and it was measured at 4.75% false
positives at a nominal 1% (``benchmarks/threshold_outputs.py``). Asking for it there is
refused; when the externals are not exchangeable, the rank p-value is used, approximate.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from audit.errors import VerifierOptionError
from audit.queries.oracle import ScoreOracle
from audit.verifiers.mark_statistic import CONFIDENCE

RANK = "rank"
T = "t"
CALIBRATIONS = (RANK, T)
"""The calibrations a person can ask of the single-step calibrated tests."""

_FLOAT_SLACK = 1e-9  # level · (K + 1) is an integer up to rounding (0.01 · 100)

NOT_EXCHANGEABLE = (
    "the external marks are not draws of your mark's own family (or the replies may "
    "come from more than one model version), so under the null hypothesis your mark "
    "need not be exchangeable with them"
)


@dataclass(frozen=True)
class Calibration:
    """What produced a p-value (``name``), whether it is exact, and why."""

    name: str
    exact: bool
    reason: str


def tolerated(externals: int, level: float) -> int:
    """h = ⌊level · (K + 1)⌋: the rank test at ``level`` detects iff fewer than h of K
    externals score at least as high as the true mark."""
    return math.floor(level * (externals + 1) + _FLOAT_SLACK)


def smallest_rank_p(externals: int) -> float:
    """The smallest p-value a rank test over ``externals`` marks can give: 1/(K + 1)."""
    return 1.0 / (externals + 1)


def check_reachable(externals: int, level: float, what: str, *, hint: str = "") -> None:
    """``VerifierOptionError`` unless a rank test over ``externals`` can reach ``level``.

    The test can detect only when p = 1/(K + 1) ≤ level, i.e. K + 1 ≥ 1/level.
    ``hint`` names a further way out (e.g. the approximate t calibration).
    """
    if tolerated(externals, level) < 1:
        needed = math.ceil(1.0 / level - _FLOAT_SLACK) - 1
        raise VerifierOptionError(
            f"{what} can never detect at level {level:g} with {externals} external marks: "
            f"its smallest possible p-value is 1/({externals} + 1) = "
            f"{smallest_rank_p(externals):.3g}. Use at least {needed} external marks, "
            f"or a level of at least {smallest_rank_p(externals):.3g}"
            + (f", {hint}" if hint else "")
        )


def rank_calibration(oracle: ScoreOracle, externals: int, *, name: str = RANK) -> Calibration:
    """A rank p-value over ``externals`` marks: exact iff the oracle claims exchangeability."""
    if oracle.exchangeable:
        return Calibration(
            name,
            True,
            f"rank of your mark among {externals} external marks of its own family, "
            "exchangeable with it if the model never learned it: P(p ≤ a) ≤ a exactly",
        )
    return Calibration(name, False, f"{NOT_EXCHANGEABLE}; the rank p-value is approximate")


def t_calibration(oracle: ScoreOracle, *, requested: bool) -> Calibration:
    """The prediction-interval t calibration: approximate, for one of two reasons."""
    assumption = (
        "it assumes the marks' natural effects are normally distributed (measured above "
        "its level when they are heavy-tailed)"
    )
    if requested:
        return Calibration(T, False, f"t calibration, as asked: {assumption}")
    return Calibration(T, False, f"{NOT_EXCHANGEABLE}; the t calibration was used and {assumption}")


ZERO_INFLATED_T = (
    "the t calibration is not valid on the confidence statistic of threshold output "
    "(a tag's confidence, 0 when the service did not return it): those values are "
    "zero-inflated, far from the normal draws it assumes, and it was measured at 4.75% "
    "false positives at a nominal 1%. Use the rank calibration (calibration rank, the "
    "default): it is exact on any distribution of values"
)


def choose(requested: str, oracle: ScoreOracle, externals: int) -> Calibration:
    """The calibration a single-step calibrated test uses on ``oracle``.

    "rank" gives the exact rank p-value when the oracle's externals are exchangeable
    with the true mark, and otherwise the t calibration, labelled approximate with the
    reason — except on confidences of threshold output, where the rank p-value is kept
    (approximate then). "t" is the t calibration, labelled approximate; on confidences
    of threshold output it raises ``VerifierOptionError`` (see the module docstring).
    """
    zero_inflated = oracle.statistic == CONFIDENCE
    if requested == T:
        if zero_inflated:
            raise VerifierOptionError(ZERO_INFLATED_T)
        return t_calibration(oracle, requested=True)
    if oracle.exchangeable or zero_inflated:
        return rank_calibration(oracle, externals)
    return t_calibration(oracle, requested=False)


def not_exact(name: str, reason: str) -> Calibration:
    """A calibration that never claims exactness (paired tests, Welch, round counts)."""
    return Calibration(name, False, reason)
