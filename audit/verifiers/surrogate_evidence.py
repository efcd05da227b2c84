"""The calibrated test's evidence when the oracle carries surrogate scores.

Null hypothesis (unchanged): the audited model did not learn the person's mark, so
the true mark is one more draw from the family its K externals come from, scored on
the same images. The per-mark statistic becomes what the audited model does with a
mark *beyond* what the person's own surrogates predict for it: each mark's mean
statistic minus its leave-one-out least-squares prediction from the surrogates' mean
statistics on the same images (``audit.verifiers.surrogate.surrogate_adjust``, one
regressor per surrogate group: decoys averaged, clean ones apart).

Why the rank p-value stays exact: the surrogates never see the audited model's
replies and were trained without any of the K + 1 marks (decoys are fresh secret
draws kept away from the externals, ``marks.decoys``), so under H0 the K + 1 records
(target statistics, surrogate statistics) of the marks are exchangeable; the
adjustment is one function of all of them, symmetric in the marks, so the adjusted
statistics are exchangeable too, and the true mark's rank among them is uniform.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from audit.errors import VerifierOptionError
from audit.queries.oracle import SurrogateScores
from audit.verifiers.calibration import CalibratedEvidence, prediction_pvalue, rank_pvalue
from audit.verifiers.exactness import Calibration
from audit.verifiers.mark_statistic import MarkStatistic
from audit.verifiers.surrogate import Method, surrogate_adjust

METHOD: Method = "loo"
WHY_EXACT = (
    "each mark's statistic was adjusted by what your surrogate models predict for it "
    "(one leave-one-out least-squares fit over all marks); the surrogates never saw this "
    "model's replies and were trained without any of these marks, so the adjusted "
    "statistics stay exchangeable under the null hypothesis and the rank p-value stays exact"
)


@dataclass(frozen=True)
class AdjustedEvidence:
    """The evidence over adjusted statistics, and what the report says about them."""

    evidence: CalibratedEvidence
    details: dict


def regressors(
    surrogate: SurrogateScores,
    marks: list[int],
    images: np.ndarray,
    label: str,
    statistic: MarkStatistic,
) -> np.ndarray:
    """(len(marks), groups): each group's mean per-mark statistic on ``images``.

    The verifier's own per-image statistic of ``label``, computed from every surrogate
    model's scores as from the audited model's, averaged over the models of a group
    and then over the images.
    """
    if label not in surrogate.labels:
        raise VerifierOptionError(f"the surrogate models have no label {label!r}")
    j = surrogate.labels.index(label)
    scores = surrogate.query(marks, images)  # (models, marks, images, labels)
    per_model = np.stack([statistic.per_image(s, surrogate.statistic, j) for s in scores])
    groups = np.asarray(surrogate.groups)
    columns = [per_model[groups == g].mean(axis=0).mean(axis=1) for g in np.unique(groups)]
    return np.column_stack(columns)


def check_enough_marks(surrogate: SurrogateScores, externals: int) -> None:
    """``VerifierOptionError`` unless K + 1 marks can fit the surrogates' regressors."""
    groups = len(set(surrogate.groups))
    if externals + 1 < groups + 3:  # leave-one-out needs a fit on K marks with room left
        raise VerifierOptionError(
            f"a surrogate adjustment with {groups} regressor(s) needs at least {groups + 2} "
            f"external marks, got {externals}"
        )


def adjusted_evidence(
    per_image: np.ndarray, predictors: np.ndarray, description: dict
) -> AdjustedEvidence:
    """Evidence from (K + 1, n) target statistics (row 0 the true mark), adjusted.

    ``predictors`` is (K + 1, groups) from ``regressors``. The ranked statistics are
    the leave-one-out residuals; the raw per-mark means and the surrogates' predictions
    go to the details (reports, the lead with and without adjustment).
    """
    per_image = np.asarray(per_image, dtype=float)
    raw = per_image.mean(axis=1)
    adjusted = surrogate_adjust(raw, predictors, method=METHOD)
    x0, ext = float(adjusted[0]), adjusted[1:]
    t, p_t = prediction_pvalue(x0, ext) if len(ext) >= 2 else (None, None)
    evidence = CalibratedEvidence(
        true_statistic=x0,
        external_statistics=[float(v) for v in ext],
        t=t,
        p_t=p_t,
        p_rank=rank_pvalue(x0, ext),
        per_image_true=[float(v) for v in per_image[0]],
        per_image_externals=[[float(v) for v in row] for row in per_image[1:]],
    )
    # How well the surrogates track this model on the externals (never the true mark).
    correlations = [
        float(np.corrcoef(raw[1:], column[1:])[0, 1]) if np.std(column[1:]) > 0 else 0.0
        for column in predictors.T
    ]
    details = {
        **description,
        "method": f"{METHOD} least squares over all {len(raw)} marks",
        "regressors": int(predictors.shape[1]),
        "raw_true_statistic": float(raw[0]),
        "raw_external_statistics": [float(v) for v in raw[1:]],
        "predicted": [[float(v) for v in row] for row in predictors],
        "externals_correlation": correlations,
    }
    return AdjustedEvidence(evidence, details)


def with_surrogate(calibration: Calibration) -> Calibration:
    """The calibration, its reason saying the statistics were adjusted (and why exact)."""
    if calibration.exact:
        return Calibration(calibration.name, True, f"{calibration.reason}; {WHY_EXACT}")
    return Calibration(
        calibration.name,
        False,
        f"{calibration.reason} (statistics adjusted by your surrogate models)",
    )
