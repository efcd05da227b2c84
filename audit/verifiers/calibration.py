"""Judging the true mark against external marks of the same family.

A paired test between two marks detects any systematic difference between them, and
two marks a model never saw still differ (measured on clean CIFAR-10 models: 38–45% of
rounds significant at λ = 0.1). So the reference is not one external mark but the spread
of K of them: under H0 the true mark's statistic is one more draw from the
distribution the externals' statistics come from.

Per-mark statistic: the mean over the *same* auxiliary images of label j's
log-probability (full output) or of minus its rank (top-K / threshold output).
Using the same images for every mark cancels image-to-image variance. For
log-probabilities the default *centres* each image's vector first
(log p_j − mean over labels of log p): that removes the log-partition term, which
moves every label together whenever a mark hides some of the image's own content
(a large, label-unspecific part of natural mark-to-mark variation), while a
learned isotope lifts label j alone.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from audit.errors import VerifierOptionError

CALIBRATIONS = ("t", "rank")


def per_image_statistics(scores: np.ndarray, j: int, *, centre: bool) -> np.ndarray:
    """(marks, images) statistic of label ``j`` from an oracle array (marks, images, labels)."""
    if centre:
        return scores[:, :, j] - scores.mean(axis=2)
    return scores[:, :, j]


def prediction_pvalue(x0: float, externals: np.ndarray) -> tuple[float, float]:
    """One-sided prediction-interval t-test of ``x0`` against ``externals``.

    H0: ``x0`` and the K externals are i.i.d. normal. Then
    t = (x0 − mean) / (s·sqrt(1 + 1/K)) has a Student t distribution with K − 1
    degrees of freedom, and p = P(T ≥ t) is the chance that a mark the model never
    saw sits this far above the externals. Returns (t, p).
    """
    k = len(externals)
    if k < 2:
        raise VerifierOptionError(
            f"the prediction-interval test needs at least 2 external marks, got {k}"
        )
    spread = float(np.std(externals, ddof=1))
    centre = float(np.mean(externals))
    if spread == 0.0:  # e.g. every rank identical: no spread to judge against
        t = 0.0 if x0 <= centre else float("inf")
        return t, rank_pvalue(x0, externals)
    t = (x0 - centre) / (spread * np.sqrt(1.0 + 1.0 / k))
    return float(t), float(stats.t.sf(t, df=k - 1))


def rank_pvalue(x0: float, externals: np.ndarray) -> float:
    """Exact p-value under exchangeability: (1 + #{externals ≥ x0}) / (K + 1).

    H0: the true mark is exchangeable with the externals (e.g. procedural marks from
    random seeds of one generator, none of them seen by the model). No normality is
    assumed, but p cannot fall below 1/(K + 1).
    """
    return float((1 + np.sum(np.asarray(externals) >= x0)) / (len(externals) + 1))


@dataclass
class CalibratedEvidence:
    """The true mark's statistic against the externals', and both p-values."""

    true_statistic: float
    external_statistics: list[float]
    t: float
    p_t: float
    p_rank: float
    per_image_shift: list[float]  # true − mean of externals, image by image

    def p_value(self, calibration: str) -> float:
        """The p-value of the chosen calibration ("t" or "rank")."""
        return self.p_t if calibration == "t" else self.p_rank

    def summary(self) -> dict:
        """Compact per-round statistics (no per-image lists)."""
        ext = np.asarray(self.external_statistics)
        return {
            "true_statistic": self.true_statistic,
            "external_mean": float(ext.mean()),
            "external_sd": float(ext.std(ddof=1)) if len(ext) > 1 else 0.0,
            "t": self.t,
            "df": len(ext) - 1,
            "p_t": self.p_t,
            "p_rank": self.p_rank,
        }


def calibrated_evidence(
    scores: np.ndarray, j: int, *, centre: bool, true_row: int = 0
) -> CalibratedEvidence:
    """Evidence from an oracle array whose row ``true_row`` is the true mark, others externals."""
    per_image = per_image_statistics(scores, j, centre=centre)
    means = per_image.mean(axis=1)
    others = np.delete(np.arange(len(means)), true_row)
    x0, ext = float(means[true_row]), means[others]
    t, p_t = prediction_pvalue(x0, ext)
    shift = per_image[true_row] - per_image[others].mean(axis=0)
    return CalibratedEvidence(
        true_statistic=x0,
        external_statistics=[float(v) for v in ext],
        t=t,
        p_t=p_t,
        p_rank=rank_pvalue(x0, ext),
        per_image_shift=[float(v) for v in shift],
    )
