"""The statistical building blocks against values computed by hand."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from audit.verifiers.calibration import calibrated_evidence, prediction_pvalue, rank_pvalue
from audit.verifiers.mark_statistic import MarkStatistic
from audit.verifiers.paper import paired_pvalue
from audit.verifiers.rank import neg_ranks, wilcoxon_pvalue
from audit.verifiers.simulation import clopper_pearson, largest_count_consistent
from audit.verifiers.unpaired import welch_pvalue


def test_prediction_interval_t() -> None:
    externals = np.array([0.0, 1.0, 2.0, 3.0, 4.0])  # mean 2, sd sqrt(2.5)
    t, p = prediction_pvalue(6.0, externals)
    expected_t = 4.0 / (np.sqrt(2.5) * np.sqrt(1.2))
    assert t == pytest.approx(expected_t)
    assert p == pytest.approx(stats.t.sf(expected_t, df=4))
    with pytest.raises(ValueError, match="at least 2"):
        prediction_pvalue(1.0, np.array([0.0]))
    assert prediction_pvalue(1.0, np.zeros(4)) == (float("inf"), 0.2)


def test_rank_pvalue_is_exact_under_exchangeability() -> None:
    assert rank_pvalue(10.0, np.arange(9.0)) == pytest.approx(0.1)
    assert rank_pvalue(4.0, np.arange(9.0)) == pytest.approx(0.6)
    rng = np.random.default_rng(0)
    draws = rng.standard_normal((4000, 20))
    p = np.array([rank_pvalue(row[0], row[1:]) for row in draws])
    assert np.mean(p <= 0.1) == pytest.approx(0.1, abs=0.015)


def test_centring_removes_a_shift_common_to_all_labels() -> None:
    scores = np.zeros((3, 4, 5))
    scores[0] += 2.0  # the true mark moves every label together: not specific to j
    centred = MarkStatistic(centre=True).per_image(
        scores + 0.01 * np.arange(3)[:, None, None], "log_prob", 1
    )
    assert calibrated_evidence(centred).t == 0
    raw = MarkStatistic(centre=False).per_image(
        scores + np.array([0, 0.1, -0.1])[:, None, None], "log_prob", 1
    )
    evidence = calibrated_evidence(raw)
    assert evidence.t is not None and evidence.t > 10
    assert evidence.per_image_shift == pytest.approx([2.0] * 4)
    assert evidence.p_rank == pytest.approx(1 / 3)


def test_clopper_pearson() -> None:
    low, high = clopper_pearson(0, 100)
    assert low == 0.0 and high == pytest.approx(0.0362, abs=1e-4)
    low, high = clopper_pearson(5, 10)
    assert (low, high) == pytest.approx((0.1871, 0.8129), abs=1e-4)


def test_largest_count_consistent_is_a_binomial_quantile() -> None:
    bound = largest_count_consistent(300, 0.01)
    assert bound == stats.binom.ppf(0.999, 300, 0.01) == 10
    assert stats.binom.sf(bound, 300, 0.01) <= 1e-3 < stats.binom.sf(bound - 1, 300, 0.01)


def test_paired_welch_and_wilcoxon() -> None:
    a = np.array([1.0, 2.0, 3.0, 4.0, 5.5])
    b = np.array([0.5, 1.0, 2.5, 3.0, 5.0])
    assert paired_pvalue(a, b) == pytest.approx(stats.ttest_rel(a, b, alternative="greater").pvalue)
    assert paired_pvalue(a, a) == 1.0 and paired_pvalue(a + 1, a) == 0.0
    t, p = welch_pvalue(a + 3, b)
    assert t > 0 and p < 0.01
    assert wilcoxon_pvalue(b, b) == 1.0
    distinct = a - np.array([0.1, 0.2, 0.3, 0.4, 0.5])
    assert wilcoxon_pvalue(a, distinct) == pytest.approx(1 / 32)  # exact: all 5 positive
    tied = wilcoxon_pvalue(a, b)  # tied |differences|: tie-corrected normal approximation
    assert tied == pytest.approx(
        stats.wilcoxon(a - b, alternative="greater", method="approx").pvalue
    )


def test_neg_ranks_truncate_beyond_top_k_and_share_ties() -> None:
    logp = np.log(np.array([[0.5, 0.3, 0.15, 0.05]]))
    assert neg_ranks(logp).tolist() == [[-1, -2, -3, -4]]
    assert neg_ranks(logp, top_k=2).tolist() == [[-1, -2, -3, -3]]
    # Labels a threshold service did not return (confidence 0) share one rank.
    assert neg_ranks(np.array([[0.0, 0.9, 0.0, 0.4]])).tolist() == [[-3, -1, -3, -2]]
