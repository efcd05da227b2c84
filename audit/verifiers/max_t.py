"""Exact max-T over labels: one rank p-value for "the mark shifted *some* label".

Input: S[i, l], the statistic of mark i (row 0 the true mark, rows 1..K externals) on
label l. Each label's column is standardized across the K + 1 marks,
Z[i, l] = (S[i, l] − mean_i S[·, l]) / √(sd_i S[·, l]² + floor²), and each mark gets its
largest standardized statistic, M_i = max_l Z[i, l].

Why a floor on the spread. A tagger answers only the tags above its threshold, so with
an open vocabulary most columns are almost all 0: a tag that came back for one mark
only has a spread made of that one value, and its z is then (K + 1 − 1)/√(K + 1), the
largest any column allows, whatever the value — a tag returned once, just above the
threshold, for an external mark ties with the true mark's label returned on every
image. With thousands of tags almost every mark has such a tag, and the true mark's
evidence drowns in ties (measured on the mock in threshold mode with 100 labels: power
≈ 3% at any effect). The floor is the root mean square of the columns' spreads, one
scale for the whole matrix, added to each column's own spread in quadrature: a rare
tag's column, whose own spread is small, is measured mostly in that common scale, so
its z grows with how much the tag moved (without a cap, so rare tags never tie by
construction), not with how rare it is; a column with a large spread of its own is
standardized much as before.

Ties are decided conservatively. Values equal in exact arithmetic (the capped z of
several rare tags) can differ by a rounding error that depends on the row's position
in the computation; counting an external as reaching the true mark when it is within
a relative 1e-9 of it makes every such tie count against the true mark, as the rank
test requires (without it, row 0 won those ties: 2.2% false positives at a nominal 1%).

Why it is exact. Under H0 (the model learned the mark on no label) the K + 1 rows of S
are exchangeable. Standardizing uses means, spreads and the floor over *all* K + 1
marks — symmetric functions of the rows, computed without knowing which row is the
true mark — so (M_0, ..., M_K) is exchangeable too, and
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

RELATIVE_TIE = 1e-9
"""Maxima this close (relative to the largest) are ties, counted against the true mark."""


def spread_floor(statistics: np.ndarray) -> float:
    """The root mean square of the columns' spreads across rows (marks): the common
    scale added (in quadrature) to each column's own spread."""
    s = np.asarray(statistics, dtype=float)
    return float(np.sqrt(np.mean(s.var(axis=0, ddof=1))))


def standardize_columns(statistics: np.ndarray) -> np.ndarray:
    """Each column centred across rows (marks) and divided by √(its spread² +
    ``spread_floor``²); all 0 when no column has any spread."""
    s = np.asarray(statistics, dtype=float)
    centre = s.mean(axis=0, keepdims=True)
    spread = np.hypot(s.std(axis=0, ddof=1, keepdims=True), spread_floor(s))
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
    tie: float  # how close to a value a maximum counts as reaching it

    @property
    def exceedances(self) -> int:
        """How many externals' maxima reach the true mark's (ties included)."""
        return int(np.sum(self.maxima[1:] >= self.maxima[0] - self.tie))


def max_t(statistics: np.ndarray) -> MaxT:
    """Max-T evidence from (marks, labels) statistics whose row 0 is the true mark."""
    s = np.asarray(statistics, dtype=float)
    if s.ndim != 2 or s.shape[0] < 2 or s.shape[1] < 1:
        raise ValueError(f"max-T needs (marks ≥ 2, labels ≥ 1) statistics, got {s.shape}")
    z = standardize_columns(s)
    maxima = z.max(axis=1)
    k = s.shape[0] - 1
    ext = maxima[1:]
    tie = RELATIVE_TIE * max(1.0, float(np.max(np.abs(maxima))))
    p = float((1 + np.sum(ext >= maxima[0] - tie)) / (k + 1))
    adjusted = np.array([(1 + np.sum(ext >= value - tie)) / (k + 1) for value in z[0]])
    return MaxT(z, maxima, p, int(np.argmax(z[0])), adjusted, tie)
