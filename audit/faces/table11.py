"""The paper's Table 11 metrics of an enroll-and-probe experiment, per probe set.

For each probe (set1 and set2 probes are the enrolled images themselves; set3 probes
are new images carrying set1's mark), among the matches at or above ``threshold``,
ranked by similarity:

- an *isotope match* is an enrolled face whose image carries the probe's mark (set1's
  mark for set1 and set3 probes; the probe's own set2 mark for set2 probes), of any
  identity;
- the *true match* is the first enrolled face of the probe's own identity.

Per set: the share of probes with any isotope match, the mean rank of the first
isotope match and the mean rank of the true match (each over the probes that have
one), and how many probes showed no face. The paper's figures (Rekognition, 100
people, threshold 95): 95% / 94% / 80% of probes with an isotope match, first isotope
match at mean rank 1.0 / 1.0 / 4.8 for set1 / set2 / set3.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

import numpy as np

from audit.faces.experiment_plan import ROLES, ExperimentPlan, PlanImage
from providers.face_collection import FaceSearch, NoFaceFound, SearchOutcome

PAPER_TABLE_11 = {
    "set1": {"share_with_isotope_match": 0.95, "mean_isotope_rank": 1.0},
    "set2": {"share_with_isotope_match": 0.94, "mean_isotope_rank": 1.0},
    "set3": {"share_with_isotope_match": 0.80, "mean_isotope_rank": 4.8},
}
"""The paper's Table 11 (threshold 95), for reports to print beside ours."""


def _first_rank(ranked: Sequence[str | None], wanted: set[str]) -> int | None:
    for rank, external_id in enumerate(ranked, start=1):
        if external_id in wanted:
            return rank
    return None


def _mean(values: list[int]) -> float | None:
    return float(np.mean(values)) if values else None


def table11(
    plan: ExperimentPlan,
    searches: Sequence[tuple[PlanImage, SearchOutcome]],
    threshold: float,
) -> dict:
    """Table 11's metrics per set from ``searches`` (probe, outcome) at ``threshold``."""
    by_mark: dict[str, set[str]] = defaultdict(set)
    by_identity: dict[str, set[str]] = defaultdict(set)
    for image in plan.enrolled:
        if image.external_id is not None:
            by_mark[image.mark_fingerprint].add(image.external_id)
            by_identity[image.identity].add(image.external_id)
    table: dict[str, dict] = {}
    for role in ROLES:
        chosen = [(probe, outcome) for probe, outcome in searches if probe.role == role]
        isotope_ranks: list[int] = []
        true_ranks: list[int] = []
        no_face = 0
        for probe, outcome in chosen:
            if isinstance(outcome, NoFaceFound):
                no_face += 1
                continue
            assert isinstance(outcome, FaceSearch)
            ranked = [m.external_id for m in outcome.matches if m.similarity >= threshold]
            isotope = _first_rank(ranked, by_mark[probe.mark_fingerprint])
            true = _first_rank(ranked, by_identity[probe.identity])
            if isotope is not None:
                isotope_ranks.append(isotope)
            if true is not None:
                true_ranks.append(true)
        table[role] = {
            "probes": len(chosen),
            "no_face": no_face,
            "share_with_isotope_match": len(isotope_ranks) / len(chosen) if chosen else None,
            "mean_isotope_rank": _mean(isotope_ranks),
            "share_with_true_match": len(true_ranks) / len(chosen) if chosen else None,
            "mean_true_rank": _mean(true_ranks),
        }
    return table
