"""The per-image statistic of a label, for every mark, from an oracle's scores.

Each mark's value on an image depends on that mark's reply alone (never on other
marks'), so a mark's statistic is the same whichever other marks were queried with
it: the sequential test can compare marks queried in different steps.

``on="auto"`` tests what the oracle returns: log-probabilities (centred by default:
log p_j − mean over labels of log p, which removes the log-partition term that moves
every label together when a mark hides some of the image's content), minus the rank
of the label for top-K output, or the label's confidence (0 when not returned) for
threshold output. ``on="rank"`` always tests minus the rank (computed from the
oracle's scores when they are not ranks already, truncated at ``top_k`` + 1 when
given).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import stats

from audit.errors import VerifierOptionError
from audit.verifiers.inputs import check_at_least

ON = ("auto", "rank")
LOG_PROB = "log_prob"
NEG_RANK = "neg_rank"
CONFIDENCE = "confidence"


def neg_ranks(scores: np.ndarray, top_k: int | None = None) -> np.ndarray:
    """Minus the 1-based rank of each label along the last axis; K + 1 beyond the top K.

    A label's rank is 1 + the number of labels scored strictly higher, so tied labels
    (e.g. the confidence 0 of every label a service did not return) share a rank.
    """
    ranks = stats.rankdata(-np.asarray(scores, dtype=float), method="min", axis=-1)
    if top_k is not None:
        ranks = np.minimum(ranks, top_k + 1)
    return -ranks.astype(float)


@dataclass(frozen=True)
class MarkStatistic:
    """How a verifier turns an oracle's (marks, images, labels) scores into statistics."""

    on: str = "auto"
    centre: bool = True
    top_k: int | None = None

    def __post_init__(self) -> None:
        if self.on not in ON:
            raise VerifierOptionError(f"statistic must be one of {ON}, got {self.on!r}")
        if self.top_k is not None:
            check_at_least(self.top_k, 1, "top_k")

    def uses_ranks(self, oracle_statistic: str) -> bool:
        """Whether the tested values are minus ranks."""
        return self.on == "rank" or oracle_statistic == NEG_RANK

    def values(self, scores: np.ndarray, oracle_statistic: str) -> np.ndarray:
        """(marks, images, labels) values of every label (larger: leans more to it)."""
        if self.on == "rank" and oracle_statistic != NEG_RANK:
            return neg_ranks(scores, self.top_k)
        if oracle_statistic == LOG_PROB and self.centre:
            return scores - scores.mean(axis=2, keepdims=True)
        return scores

    def per_image(self, scores: np.ndarray, oracle_statistic: str, j: int) -> np.ndarray:
        """(marks, images) values of label ``j``."""
        if self.on == "rank" and oracle_statistic != NEG_RANK:
            return neg_ranks(scores, self.top_k)[:, :, j]
        if oracle_statistic == LOG_PROB and self.centre:
            return scores[:, :, j] - scores.mean(axis=2)
        return scores[:, :, j]

    def describe(self, oracle_statistic: str) -> str:
        """Human name of the per-mark statistic, for reports."""
        if self.uses_ranks(oracle_statistic):
            return "mean over the images of minus the rank of label j"
        if oracle_statistic == CONFIDENCE:
            return "mean over the images of label j's confidence (0 when not returned)"
        if self.centre:
            return (
                "mean over the images of the centred log-probability of label j "
                "(log p_j − mean over labels of log p)"
            )
        return "mean over the images of the log-probability of label j"
