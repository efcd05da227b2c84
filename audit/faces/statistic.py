"""The per-search statistic of a face audit: how close the nearest enrolled face is.

A search answers ranked matches with similarities in 0–100. The statistic of one
search is the logit of the top similarity, log(s / (100 − s)): it spreads out the
top of the scale, where the evidence is. On the local engine a probe identical to an
enrolled copy scores 99.9 (logit 6.9) and the same photo with another mark of the
family 95.8–99.6 (descriptor distance 0.3–0.1, logit 3.1–5.5); there the logit is a
linear function of the descriptor distance, (0.55 − d) / 0.08. A search with no
match at or above the search threshold, or with no face in the probe, scores the
logit of the threshold: all that is known is that nothing came closer.

Each search's value depends on that search's reply alone, so a mark's statistic (the
mean over the probes) is the same whichever other marks were searched with it: the
sequential test can compare marks searched at different times.
"""

from __future__ import annotations

import math

from providers.face_collection import FaceSearch, SearchOutcome

EPSILON = 1e-4
"""Similarities are clipped to [ε, 100 − ε] so that 0 and 100 have finite logits."""


def nearness(similarity: float) -> float:
    """log(s / (100 − s)) of a similarity ``s`` in 0–100 (clipped to [ε, 100 − ε])."""
    s = min(max(float(similarity), EPSILON), 100.0 - EPSILON)
    return math.log(s / (100.0 - s))


def top_similarity(outcome: SearchOutcome) -> float | None:
    """The similarity of the best match; None for no match or no face."""
    if isinstance(outcome, FaceSearch) and outcome.matches:
        return max(match.similarity for match in outcome.matches)
    return None


def search_value(outcome: SearchOutcome, floor: float) -> float:
    """The statistic of one search: ``nearness`` of the top similarity, at least ``floor``'s.

    ``floor`` is the search's threshold: a search with no match (or no face) scores it.
    """
    best = top_similarity(outcome)
    return nearness(floor if best is None else max(best, floor))


STATISTIC_NAME = (
    "mean over your photos of logit(top similarity / 100) of a search with the photo "
    "carrying the mark (the search threshold when nothing matched or no face was found)"
)
"""How reports name the per-mark statistic."""
