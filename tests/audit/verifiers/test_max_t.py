"""Exact max-T over labels: the p-value by hand, its exactness, the label it names."""

from __future__ import annotations

import numpy as np
import pytest

from audit.verifiers.max_t import max_t, spread_floor, standardize_columns
from audit.verifiers.simulation import largest_count_consistent


def test_max_t_by_hand() -> None:
    s = np.array(
        [
            [0.0, 3.0],  # the true mark: high on label 1
            [1.0, 0.0],
            [-1.0, 0.0],
            [0.0, -3.0],
        ]
    )
    spreads = s.std(axis=0, ddof=1)  # label 0 is quieter than label 1
    floor = np.sqrt(np.mean(spreads**2))
    assert spread_floor(s) == pytest.approx(floor)
    z = standardize_columns(s)
    assert z.mean(axis=0) == pytest.approx([0, 0])
    # Each label's spread, with the common scale added in quadrature.
    assert z[:, 0] == pytest.approx(s[:, 0] / np.sqrt(spreads[0] ** 2 + floor**2))
    assert z[:, 1] == pytest.approx(s[:, 1] / np.sqrt(spreads[1] ** 2 + floor**2))
    evidence = max_t(s)
    maxima = z.max(axis=1)
    assert evidence.maxima == pytest.approx(maxima)
    assert evidence.best == 1
    assert evidence.p_value == pytest.approx((1 + np.sum(maxima[1:] >= maxima[0])) / 4)
    assert evidence.p_value == pytest.approx(0.25)  # the true mark's max is the largest
    assert evidence.adjusted[1] == pytest.approx(0.25)
    assert evidence.adjusted[0] == pytest.approx((1 + np.sum(maxima[1:] >= z[0, 0])) / 4)


def test_a_label_without_spread_counts_for_nobody() -> None:
    s = np.array([[2.0, 5.0], [0.0, 5.0], [1.0, 5.0]])  # label 1: every mark ties
    evidence = max_t(s)
    assert evidence.z[:, 1] == pytest.approx([0, 0, 0])
    assert evidence.best == 0 and evidence.p_value == pytest.approx(1 / 3)


def test_relabelling_the_marks_permutes_their_maxima() -> None:
    """The statistic is one symmetric function of all marks: what keeps it exact."""
    rng = np.random.default_rng(1)
    s = rng.standard_t(3, size=(20, 6))
    order = rng.permutation(20)
    assert max_t(s[order]).maxima == pytest.approx(max_t(s).maxima[order])


def test_max_t_is_exact_with_heavy_tailed_unequal_labels() -> None:
    """Exchangeable marks, labels of very different spreads and tails: P(p ≤ a) ≤ a."""
    rng = np.random.default_rng(7)
    audits, marks = 3000, 20
    spreads = np.array([0.1, 1.0, 5.0, 1.0, 1.0])
    p = np.array(
        [max_t(rng.standard_t(3, size=(marks, 5)) * spreads).p_value for _ in range(audits)]
    )
    for a in (0.05, 0.1, 0.25):
        assert np.sum(p <= a + 1e-12) <= largest_count_consistent(audits, a), a
    assert np.sum(p <= 0.05 + 1e-12) >= 0.02 * audits  # not vacuous: p does reach 0.05
