"""The contract between verifiers and whatever answers their queries.

A verifier never sees images or services: it asks a ``ScoreOracle`` for the score
matrix of some (mark, auxiliary image) pairs and does statistics on it. The audit
runner implements the oracle over a real provider (blending, ledger, budget); the
simulations implement it over the mock directly.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

CLEAN = -1
"""Mark index of an unmarked auxiliary image."""
TRUE_MARK = 0
"""Mark index of the person's own mark; external marks are 1..n_external."""


Indices = Sequence[int] | np.ndarray
"""Mark or image indices: a list, a range or an integer array."""


class ScoreOracle(Protocol):
    """Scores of marked auxiliary images, label by label.

    ``query(marks, images)`` returns a float array of shape
    (len(marks), len(images), len(labels)): entry [a, b, l] is the statistic of label
    ``labels[l]`` for auxiliary image ``images[b]`` blended with mark ``marks[a]``
    (``TRUE_MARK``, an external mark 1..n_external, or ``CLEAN``). The statistic is
    larger when the model leans more towards the label: a log-probability for full
    output, minus the rank (K+1 when absent) for top-K or threshold output, or the
    label's confidence, 0 when absent, for threshold output. ``statistic`` says which.
    Repeated pairs are not billed twice. For a service with an open vocabulary (a
    tagger), ``labels`` may grow with the tags each query's replies carry (new ones
    appended, so an index never changes): read it after querying.
    Raises ``audit.errors.BudgetExhausted`` before spending past the budget.

    ``exchangeable`` is the oracle's claim that, if the model never learned the true
    mark, the true mark and the external marks are exchangeable: the externals are
    fresh draws of the true mark's own family (dead-leaves, procedural, square or
    pixels marks from fresh secret seeds; a photo mark drawn at random from a pool
    whose rest are the externals) and every reply comes from one model version. Only
    then is a rank p-value exact; verifiers label every other p-value approximate.
    """

    labels: list[str]
    n_images: int
    n_external: int
    statistic: str  # "log_prob", "neg_rank" or "confidence"
    exchangeable: bool

    def query(self, marks: Indices, images: Indices) -> np.ndarray: ...

    def queries_used(self) -> int:
        """How many distinct (mark, image) pairs have been answered so far."""
        ...


class SurrogateScores(Protocol):
    """The person's own local models scoring the same (mark, image) pairs (not billed).

    An oracle *may* carry one as its ``surrogate`` attribute (read it with
    ``surrogate_of``); verifiers that rank all K + 1 marks at once then adjust each
    mark's statistic by what the surrogates predict (``audit.verifiers.surrogate``).
    ``query(marks, images)`` returns (models, len(marks), len(images), len(labels)) in
    the format ``statistic`` names (as ``ScoreOracle.query``), over the surrogates' own
    ``labels``; ``groups[m]`` is model m's regressor (models of one group are
    averaged). ``description`` says what the surrogates are, for results and reports.
    They never see the audited model's replies: that, and one symmetric adjustment
    over all K + 1 marks, keeps a rank p-value exact.
    """

    labels: list[str]
    statistic: str
    groups: list[int]
    description: dict

    def query(self, marks: Indices, images: Indices) -> np.ndarray: ...


def surrogate_of(oracle: object) -> SurrogateScores | None:
    """The oracle's surrogate scores, or None (most oracles carry none)."""
    return getattr(oracle, "surrogate", None)
