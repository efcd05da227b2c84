"""The per-search statistic and the ledger codec of search outcomes."""

from __future__ import annotations

import math

import pytest

from audit.faces.codec import LedgerReplyError, outcome_from_json
from audit.faces.statistic import nearness, search_value, top_similarity
from providers.face_collection import BoundingBox, FaceMatch, FaceSearch, NoFaceFound


def _search(*similarities: float) -> FaceSearch:
    matches = tuple(FaceMatch(f"id-{i}", f"e{i}", s) for i, s in enumerate(similarities))
    return FaceSearch("C@face-model-1#faces=3", matches, 10, 80.0, BoundingBox(0.1, 0.2, 0.3, 0.4))


def test_nearness_is_the_logit_and_finite_at_the_ends() -> None:
    assert nearness(50.0) == pytest.approx(0.0)
    assert nearness(99.0) == pytest.approx(math.log(99))
    assert math.isfinite(nearness(0.0)) and math.isfinite(nearness(100.0))
    assert nearness(100.0) > nearness(99.99) > nearness(99.9) > nearness(95.0)


def test_search_value_floors_at_the_threshold() -> None:
    no_face = NoFaceFound("C@face-model-1#faces=3", "no face")
    assert top_similarity(no_face) is None and top_similarity(_search()) is None
    assert search_value(no_face, 80.0) == search_value(_search(), 80.0) == nearness(80.0)
    assert search_value(_search(91.0, 99.5), 80.0) == nearness(99.5)
    assert search_value(_search(85.0), 90.0) == nearness(90.0)  # below a stricter floor


def test_outcomes_round_trip_through_json() -> None:
    for outcome in (_search(99.9, 85.5), _search(), NoFaceFound("M", "no face in image")):
        assert outcome_from_json(outcome.to_json()) == outcome
    broken = _search(90.0).to_json()
    del broken["matches"][0]["similarity"]
    with pytest.raises(LedgerReplyError, match="incomplete"):
        outcome_from_json(broken)
    with pytest.raises(LedgerReplyError, match="unknown search outcome"):
        outcome_from_json({"outcome": "maybe"})
