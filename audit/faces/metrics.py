"""Table 11-style figures of a third-party face audit, for its report.

The paper's Table 11 counts, per probe set, the share of probes with an isotope match
at a similarity threshold and the rank of the first isotope match. A third party
cannot tell which enrolled faces are isotopes, so the audit reports what it can see,
for the true mark and for the external marks alike:

- the share of searches with any match at or above the search threshold, and with no
  face found;
- the mean top similarity of the searches that matched;
- the *candidate copy*: the face the search with the true mark matched best. Its rank
  in the searches of the same photo with each external mark (max_faces + 1 when
  absent) says whether other marks pull the same face as close — when the collection
  holds the posted copy, only the true mark does;
- the share of photos on which the true mark came strictly closest of all marks
  searched.

These are descriptions, not the test: the p-value is the verifier's.
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np

from audit.faces.statistic import top_similarity
from audit.queries.oracle import TRUE_MARK
from providers.face_collection import FaceSearch, NoFaceFound, SearchOutcome


def _group(outcomes: list[SearchOutcome]) -> dict:
    tops = [top_similarity(outcome) for outcome in outcomes]
    matched = [top for top in tops if top is not None]
    n = len(outcomes)
    return {
        "searches": n,
        "share_with_match": len(matched) / n if n else None,
        "share_no_face": sum(isinstance(o, NoFaceFound) for o in outcomes) / n if n else None,
        "mean_top_similarity": float(np.mean(matched)) if matched else None,
    }


def _rank(outcome: SearchOutcome, face_id: str, absent: int) -> int:
    if isinstance(outcome, FaceSearch):
        for rank, match in enumerate(outcome.matches, start=1):
            if match.face_id == face_id:
                return rank
    return absent


def audit_metrics(answered: dict[tuple[int, int], SearchOutcome], max_faces: int) -> dict:
    """The figures above from the searches made, by (mark, probe)."""
    by_probe: dict[int, dict[int, SearchOutcome]] = defaultdict(dict)
    for (mark, probe), outcome in answered.items():
        by_probe[probe][mark] = outcome
    true = [marks[TRUE_MARK] for marks in by_probe.values() if TRUE_MARK in marks]
    external = [o for marks in by_probe.values() for m, o in marks.items() if m != TRUE_MARK]
    ranks: list[int] = []
    first = compared = 0
    for marks in by_probe.values():
        mine = marks.get(TRUE_MARK)
        others = [o for m, o in marks.items() if m != TRUE_MARK]
        if mine is None or not others:
            continue
        compared += 1
        best = top_similarity(mine)
        if best is not None and all((top_similarity(o) or -1.0) < best for o in others):
            first += 1
        if isinstance(mine, FaceSearch) and mine.matches:
            candidate = mine.matches[0].face_id
            ranks += [_rank(o, candidate, max_faces + 1) for o in others]
    return {
        "true_mark": _group(true),
        "external_marks": _group(external),
        "candidate_copy_rank_with_external_marks": float(np.mean(ranks)) if ranks else None,
        "share_true_mark_closest": first / compared if compared else None,
        "photos_compared": compared,
    }
