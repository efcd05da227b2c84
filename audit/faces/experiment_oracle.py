"""The ``ScoreOracle`` of the experiment's p-value: do marks pull their isotopes closer?

Its images are the set3 originals (new photos of each identity, never enrolled), its
marks set1's mark (index 0) and K external marks of its family. Entry [a, b, 0] is,
for the search with original b blended with mark a (encoded as ``prepare
rekognition`` encodes, ``marks.reproduce.plan_copy``):

    logit(best similarity to the identity's set1 faces)
    − logit(best similarity to the identity's set2 faces)

set1 faces carry set1's mark, set2 faces other marks; both are the same person, so
the difference removes how close the probe's face is to that person's enrolled faces
in general, and how much the probe's mark disturbs the face, and leaves how much
closer the mark brings it to faces carrying the same mark. A face not listed in the
reply scored at most the lowest listed similarity when the list is full (MaxFaces),
else below the search threshold: that is its value. Each value depends on its own
search alone, so the rank test over marks stays exact.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from audit.faces.experiment_plan import PlanImage
from audit.faces.searcher import LedgeredFaceSearch
from audit.faces.statistic import nearness
from audit.queries.oracle import Indices
from marks.mark import Mark
from marks.reproduce import plan_copy
from providers.face_collection import FaceSearch, SearchOutcome
from providers.query import QueryImage

ISOTOPE_PULL = "isotope_pull"
"""The oracle's one label and its statistic's name."""


def best_similarity(outcome: SearchOutcome, wanted: set[str], threshold: float) -> float:
    """The best similarity of a listed face in ``wanted``; else the most it could be."""
    if not isinstance(outcome, FaceSearch):
        return threshold  # no face: nothing came closer than the threshold
    listed = [m.similarity for m in outcome.matches if m.external_id in wanted]
    if listed:
        return max(listed)
    full = outcome.matches and len(outcome.matches) >= outcome.max_faces
    return min(m.similarity for m in outcome.matches) if full else threshold


def isotope_pull(outcome: SearchOutcome, set1: set[str], set2: set[str], threshold: float) -> float:
    """The statistic of one search (module docstring)."""
    return nearness(best_similarity(outcome, set1, threshold)) - nearness(
        best_similarity(outcome, set2, threshold)
    )


class ExperimentOracle:
    """Searches of set3 ``probes`` blended with ``marks`` (set1's mark first) at ``alpha``.

    ``ids`` maps each identity to its (set1, set2) ExternalImageIds. ``exchangeable``
    as in ``audit.faces.oracle.FaceMatchOracle``.
    """

    statistic = ISOTOPE_PULL

    def __init__(
        self,
        searcher: LedgeredFaceSearch,
        probes: Sequence[PlanImage],
        marks: Sequence[Mark],
        alpha: float,
        ids: dict[str, tuple[set[str], set[str]]],
        *,
        exchangeable: bool,
    ) -> None:
        self.labels = [ISOTOPE_PULL]
        self.searcher = searcher
        self.probes = list(probes)
        self.marks = list(marks)
        self.alpha = alpha
        self.ids = ids
        self.exchangeable = exchangeable
        self.n_images = len(self.probes)
        self.n_external = len(self.marks) - 1
        self._outcomes: dict[tuple[int, int], SearchOutcome] = {}

    def _image(self, mark: int, probe: int) -> QueryImage:
        data = plan_copy(self.probes[probe].source, self.marks[mark], self.alpha)
        return QueryImage(data=data, mime_type="image/jpeg")

    def query(self, marks: Indices, images: Indices) -> np.ndarray:
        """(len(marks), len(images), 1) statistics; unanswered searches are sent first."""
        mark_list = [int(m) for m in np.asarray(marks).ravel()]
        image_list = [int(b) for b in np.asarray(images).ravel()]
        wanted = [(m, b) for m in mark_list for b in image_list if (m, b) not in self._outcomes]
        wanted = list(dict.fromkeys(wanted))
        if wanted:
            outcomes = self.searcher.search_many([self._image(m, b) for m, b in wanted])
            self._outcomes.update(zip(wanted, outcomes, strict=True))
        values = np.empty((len(mark_list), len(image_list), 1))
        threshold = self.searcher.threshold
        for a, mark in enumerate(mark_list):
            for b, image in enumerate(image_list):
                set1, set2 = self.ids[self.probes[image].identity]
                values[a, b, 0] = isotope_pull(self._outcomes[(mark, image)], set1, set2, threshold)
        return values

    def queries_used(self) -> int:
        """Distinct searches answered so far."""
        return len(self._outcomes)
