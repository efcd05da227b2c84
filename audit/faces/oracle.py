"""``FaceMatchOracle``: the ``ScoreOracle`` of a face audit.

Its "images" are the person's probes (originals of photos they posted marked) and its
marks the true mark (index 0) and K external marks of its family (1..K); ``CLEAN`` is
the original itself. Entry [a, b, 0] of ``query(marks, images)`` is the statistic of
searching the collection with probe ``images[b]`` blended with mark ``marks[a]``
(``audit.faces.statistic``): larger when an enrolled face is closer to that exact
image. The one "label" is ``POSTED_COPY``: the question is whether the collection
holds the copy the person posted.

No per-mark normalization is needed for this statistic: marks differ widely in how
much they disturb a face (own photo with 19 procedural marks at α 0.2: top similarity
64 ± 23), but the probe with the true mark is the enrolled copy itself, so when the
collection holds it the true mark comes closest whatever the externals' disturbance
(measured on ORL: in 100% of photo × external pairs at α 0.1, even after the service
halved and re-encoded the copy; ``benchmarks/faces_audit.py``). Each value uses its own
search only, so the per-mark statistic is a function of each mark's own replies and
the rank test stays exact.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from audit.faces.probes import Probe
from audit.faces.searcher import LedgeredFaceSearch
from audit.faces.statistic import search_value
from audit.queries.oracle import CLEAN, Indices
from marks.mark import Mark
from providers.face_collection import SearchOutcome
from providers.query import QueryImage

POSTED_COPY = "posted_copy"
"""The oracle's one label: "the collection holds the copy you posted"."""
FACE_MATCH = "face_match"
"""The oracle's statistic name."""
CHUNK = 16
"""Probes built and searched at a time."""


class FaceMatchOracle:
    """Searches of ``probes`` blended with ``marks`` (true mark first) at ``alpha``.

    ``exchangeable`` is the claim that, if the collection holds no copy carrying the
    true mark, the true mark is exchangeable with the externals: they are fresh draws
    of its family and one collection state answers every search (the searcher stops
    the audit when a reply names another, unless it audits a live collection). ``floor``
    is the search threshold (the value of a search with no match). Each distinct search
    is sent once, in an order drawn by ``order`` (a fresh generator by default); the
    outcomes stay available for the report (``outcome``).
    """

    statistic = FACE_MATCH

    def __init__(
        self,
        searcher: LedgeredFaceSearch,
        probes: Sequence[Probe],
        marks: Sequence[Mark],
        alpha: float,
        *,
        exchangeable: bool,
        floor: float,
        order: np.random.Generator | None = None,
    ) -> None:
        if not marks:
            raise ValueError("a face oracle needs the true mark")
        self.labels = [POSTED_COPY]
        self.searcher = searcher
        self.probes = list(probes)
        self.marks = list(marks)
        self.alpha = alpha
        self.exchangeable = exchangeable
        self.floor = floor
        self.n_images = len(self.probes)
        self.n_external = len(self.marks) - 1
        self._outcomes: dict[tuple[int, int], SearchOutcome] = {}
        # Draws the search order only (replies are keyed, so results do not depend on it).
        self._order = order if order is not None else np.random.default_rng()

    def _image(self, mark: int, index: int) -> QueryImage:
        chosen = None if mark == CLEAN else self.marks[mark]
        return self.probes[index].image(chosen, self.alpha)

    def query(self, marks: Indices, images: Indices) -> np.ndarray:
        """(len(marks), len(images), 1) statistics; unanswered searches are sent first."""
        mark_list = [int(m) for m in np.asarray(marks).ravel()]
        image_list = [int(b) for b in np.asarray(images).ravel()]
        for mark in mark_list:
            if mark != CLEAN and not 0 <= mark <= self.n_external:
                raise IndexError(f"mark index {mark} is not 0..{self.n_external} or CLEAN")
        for image in image_list:
            if not 0 <= image < self.n_images:
                raise IndexError(f"probe index {image} is not 0..{self.n_images - 1}")
        pairs = [(mark, b) for mark in mark_list for b in image_list]
        wanted = list(dict.fromkeys(pair for pair in pairs if pair not in self._outcomes))
        # A random order: should the collection change while these searches go out,
        # the change reaches the true mark's searches no more than any external's.
        wanted = [wanted[i] for i in self._order.permutation(len(wanted))]
        # In chunks: a probe of a 12-megapixel photo is several MB once encoded.
        for start in range(0, len(wanted), CHUNK):
            chunk = wanted[start : start + CHUNK]
            outcomes = self.searcher.search_many([self._image(m, b) for m, b in chunk])
            self._outcomes.update(zip(chunk, outcomes, strict=True))
        values = np.empty((len(mark_list), len(image_list), 1))
        for a, mark in enumerate(mark_list):
            for b, image in enumerate(image_list):
                values[a, b, 0] = search_value(self._outcomes[(mark, image)], self.floor)
        return values

    def queries_used(self) -> int:
        """Distinct searches answered so far."""
        return len(self._outcomes)

    def outcome(self, mark: int, probe: int) -> SearchOutcome | None:
        """The search of ``probe`` with ``mark``, if it was made."""
        return self._outcomes.get((mark, probe))

    def answered(self) -> dict[tuple[int, int], SearchOutcome]:
        """Every search made so far, by (mark, probe)."""
        return dict(self._outcomes)
