"""What a face audit's p-value is computed under, in words, and its per-mark statistic."""

from __future__ import annotations

import numpy as np

from audit.faces.oracle import FACE_MATCH
from audit.faces.statistic import STATISTIC_NAME


def null_hypothesis(externals: int, *, sequential: bool) -> str:
    """H0 of the face-match tests (``sequential``: stopped as soon as the decision is known).

    Exact when the external marks are fresh draws of the mark's family and one state of
    the collection answers every search: whatever the collection holds besides, it then
    treats your mark like any of them, so its rank among the K + 1 marks is uniform.
    """
    stop = " (searched externals in random order, stopped once the decision is known)"
    return (
        "the collection holds no copy of your photos carrying your mark (it may hold the "
        "originals, other copies, or nothing of you): searched with your photos, your mark "
        f"is one more draw among {externals} external marks of its family"
        + (stop if sequential else "")
    )


def describe(oracle_statistic: str) -> str:
    """How a report names the per-mark statistic of an oracle's values."""
    if oracle_statistic == FACE_MATCH:
        return STATISTIC_NAME
    return f"mean over the images of the oracle's {oracle_statistic} value"


def mark_means(scores: np.ndarray, j: int) -> np.ndarray:
    """Per-mark statistic: the mean over the images of each mark's values of label ``j``.

    A mark's mean depends on its own searches only (the oracle's values do), so the
    vector of means is the same function of every mark's data: the rank of the true
    mark among them is uniform under an exchangeable null.
    """
    return np.asarray(scores[:, :, j], dtype=float).mean(axis=1)
