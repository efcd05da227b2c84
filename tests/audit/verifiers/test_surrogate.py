"""Surrogate adjustment and per-image standardization: the algebra, and exactness."""

from __future__ import annotations

import numpy as np
import pytest

from audit.verifiers.surrogate import (
    adjusted_statistics,
    standardize_per_image,
    surrogate_adjust,
)


def _marks(rng: np.random.Generator, k: int = 40, r: float = 0.9) -> tuple[np.ndarray, np.ndarray]:
    natural = rng.standard_normal(k)
    surrogate = r * natural + np.sqrt(1 - r**2) * rng.standard_normal(k)
    return 0.5 + 2.0 * natural + 0.1 * rng.standard_normal(k), surrogate


def test_ols_residuals_are_the_least_squares_fit_over_all_marks() -> None:
    target, surrogate = _marks(np.random.default_rng(0))
    slope, intercept = np.polyfit(surrogate, target, 1)
    expected = target - (intercept + slope * surrogate)
    assert np.allclose(surrogate_adjust(target, surrogate), expected)


def test_loo_residuals_equal_explicit_refits_without_each_mark() -> None:
    rng = np.random.default_rng(1)
    target, surrogate = _marks(rng, k=25)
    regressors = np.column_stack([surrogate, rng.standard_normal(25)])
    got = surrogate_adjust(target, regressors, method="loo")
    for i in range(25):
        keep = np.arange(25) != i
        x = np.column_stack([np.ones(24), regressors[keep]])
        coef, *_ = np.linalg.lstsq(x, target[keep], rcond=None)
        assert got[i] == pytest.approx(target[i] - np.r_[1.0, regressors[i]] @ coef)


@pytest.mark.parametrize("method", ["ols", "loo"])
def test_adjustment_is_permutation_equivariant(method: str) -> None:
    # The property exactness rests on: relabelling the marks relabels the results.
    rng = np.random.default_rng(2)
    target, surrogate = _marks(rng)
    order = rng.permutation(len(target))
    adjusted = surrogate_adjust(target, surrogate, method=method)  # type: ignore[arg-type]
    permuted = surrogate_adjust(target[order], surrogate[order], method=method)  # type: ignore[arg-type]
    assert np.allclose(permuted, adjusted[order])


def test_standardization_and_matrix_form_are_equivariant() -> None:
    rng = np.random.default_rng(3)
    target = rng.standard_normal((30, 5)) * rng.uniform(0.5, 3, 5)
    surrogate = target + rng.standard_normal((30, 5))
    order = rng.permutation(30)
    z = standardize_per_image(target)
    assert np.allclose(standardize_per_image(target[order]), z[order])
    assert np.allclose(np.median(z, axis=0), 0.0)
    assert np.allclose(1.4826 * np.median(np.abs(z), axis=0), 1.0)
    for standardize in (False, True):
        stat = adjusted_statistics(target, surrogate, standardize=standardize)
        again = adjusted_statistics(target[order], surrogate[order], standardize=standardize)
        assert np.allclose(again, stat[order])
    assert np.allclose(adjusted_statistics(target), target.mean(axis=1))


def test_degenerate_inputs() -> None:
    target = np.array([1.0, 2.0, 4.0, 8.0])
    # A surrogate without spread predicts nothing: the result is the centred target.
    assert np.allclose(surrogate_adjust(target, np.ones(4)), target - target.mean())
    constant_column = np.zeros((4, 2))
    assert np.allclose(standardize_per_image(constant_column), 0.0)
    with pytest.raises(ValueError, match="marks"):
        surrogate_adjust(target, np.ones(3))
    with pytest.raises(ValueError, match="regressors need"):
        surrogate_adjust(target, np.ones((4, 3)))
    with pytest.raises(ValueError, match="unknown method"):
        surrogate_adjust(target, np.ones(4), method="huber")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="marks, images"):
        adjusted_statistics(target)


def _null_audit(rng: np.random.Generator, k: int, n: int, effect: float) -> float:
    """One audit: K + 1 i.i.d. marks (row 0 true), heavy-tailed natural effects the
    surrogate partly predicts, per-image noise, a family shift the surrogate cannot see."""
    marks = k + 1
    natural = rng.standard_t(3, marks)
    shift = 0.8 * rng.standard_normal(marks)  # transfer: only on the audited model
    image = rng.standard_normal(n)
    target = (natural + shift)[:, None] + image[None, :] + 0.5 * rng.standard_normal((marks, n))
    target[0] += effect
    surrogate = 0.7 * natural[:, None] + image[None, :] + rng.standard_normal((marks, n))
    stat = adjusted_statistics(target, surrogate, method="loo")
    return float((1 + np.sum(stat[1:] >= stat[0])) / marks)


def test_rank_pvalue_stays_exact_after_adjustment() -> None:
    # H0: the true mark is one more draw of the family. P(p <= 0.05) must be 0.05
    # (K = 19): 1,500 audits, a bound that a correct test exceeds with chance < 0.1 %.
    rng = np.random.default_rng(4)
    pvalues = np.array([_null_audit(rng, k=19, n=3, effect=0.0) for _ in range(1500)])
    hits = int(np.sum(pvalues <= 0.05))
    assert hits <= 75 + 3.1 * np.sqrt(1500 * 0.05 * 0.95)
    assert hits >= 75 - 3.1 * np.sqrt(1500 * 0.05 * 0.95)  # exact, not just conservative
    assert abs(pvalues.mean() - 0.525) < 0.03


def test_adjustment_buys_power_when_the_surrogate_predicts_natural_effects() -> None:
    rng = np.random.default_rng(5)
    k, trials = 39, 200
    raw_hits = adjusted_hits = 0
    for _ in range(trials):
        natural = rng.standard_normal(k + 1)
        target = natural[:, None] + 0.2 * rng.standard_normal((k + 1, 4))
        target[0] += 2.0
        surrogate = natural[:, None] + 0.3 * rng.standard_normal((k + 1, 4))
        for stat, counter in (
            (adjusted_statistics(target), "raw"),
            (adjusted_statistics(target, surrogate, method="loo"), "adj"),
        ):
            detected = (1 + np.sum(stat[1:] >= stat[0])) / (k + 1) <= 0.05
            if counter == "raw":
                raw_hits += detected
            else:
                adjusted_hits += detected
    assert adjusted_hits > raw_hits + 0.3 * trials
