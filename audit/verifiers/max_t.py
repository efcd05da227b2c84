"""Exact max-T over labels: one rank p-value for "the mark shifted *some* label".

Input: S[i, l], the statistic of mark i (row 0 the true mark, rows 1..K externals) on
label l. Each label's column is standardized across the K + 1 marks,
Z[i, l] = (S[i, l] − mean_i S[·, l]) / sd_i S[·, l], and each mark gets its largest
standardized statistic, M_i = max_l Z[i, l].

Why it is exact. Under H0 (the model learned the mark on no label) the K + 1 rows of S
are exchangeable. Standardizing uses means and spreads over *all* K + 1 marks — a
symmetric function of the rows — so (M_0, ..., M_K) is exchangeable too, and
p = (1 + #{i ≥ 1: M_i ≥ M_0}) / (K + 1) satisfies P(p ≤ a) ≤ a. Taking the maximum
over labels inside each mark's statistic is what controls the family-wise error over
labels: no correction is needed, and none of Holm's normal-theory per-label p-values
(anti-conservative with heavy-tailed mark effects) are involved. Standardizing puts
labels with different natural spreads on one scale, so no label dominates the max
because it is merely noisier.

Per label, the single-step adjusted p-value (1 + #{i ≥ 1: M_i ≥ Z[0, l]}) / (K + 1) is
at least the overall p and controls the family-wise error of naming label l.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def standardize_columns(statistics: np.ndarray) -> np.ndarray:
    """Each column standardized across rows (marks); a column with no spread is all 0."""
    s = np.asarray(statistics, dtype=float)
    centre = s.mean(axis=0, keepdims=True)
    spread = s.std(axis=0, ddof=1, keepdims=True)
    safe = np.where(spread > 0, spread, 1.0)
    return np.where(spread > 0, (s - centre) / safe, 0.0)


@dataclass
class MaxT:
    """The max-T evidence: standardized statistics, each mark's max, p-values."""

    z: np.ndarray  # (marks, labels), row 0 the true mark
    maxima: np.ndarray  # (marks,)
    p_value: float  # rank of the true mark's max among all marks' maxima
    best: int  # the label index where the true mark's standardized statistic is largest
    adjusted: np.ndarray  # (labels,) single-step max-T adjusted p-values

    @property
    def exceedances(self) -> int:
        """How many externals' maxima reach the true mark's."""
        return int(np.sum(self.maxima[1:] >= self.maxima[0]))


def max_t(statistics: np.ndarray) -> MaxT:
    """Max-T evidence from (marks, labels) statistics whose row 0 is the true mark."""
    s = np.asarray(statistics, dtype=float)
    if s.ndim != 2 or s.shape[0] < 2 or s.shape[1] < 1:
        raise ValueError(f"max-T needs (marks ≥ 2, labels ≥ 1) statistics, got {s.shape}")
    z = standardize_columns(s)
    maxima = z.max(axis=1)
    k = s.shape[0] - 1
    ext = maxima[1:]
    p = float((1 + np.sum(ext >= maxima[0])) / (k + 1))
    adjusted = np.array([(1 + np.sum(ext >= value)) / (k + 1) for value in z[0]])
    return MaxT(z, maxima, p, int(np.argmax(z[0])), adjusted)
