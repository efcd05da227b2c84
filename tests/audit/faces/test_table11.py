"""Table 11's metrics from known search outcomes."""

from __future__ import annotations

from pathlib import Path

import pytest

from audit.faces.experiment_oracle import best_similarity, isotope_pull
from audit.faces.experiment_plan import ExperimentPlan, PlanImage
from audit.faces.statistic import nearness
from audit.faces.table11 import table11
from providers.face_collection import FaceMatch, FaceSearch, NoFaceFound


def _image(identity: str, role: str, n: int, mark: str) -> PlanImage:
    external = None if role == "set3" else f"{identity}_{role}_{n}"
    return PlanImage(
        identity, role, Path(f"{identity}{n}.jpg"), external, Path("x"), mark, mark, None
    )


def _search(*pairs: tuple[str, float], max_faces: int = 10) -> FaceSearch:
    matches = tuple(FaceMatch(f"f{i}", ext, sim) for i, (ext, sim) in enumerate(pairs))
    return FaceSearch("M", matches, max_faces, 0.0)


@pytest.fixture
def plan() -> ExperimentPlan:
    images = [
        _image("a", "set1", 0, "t"),
        _image("a", "set1", 1, "t"),
        _image("a", "set2", 0, "u"),
        _image("b", "set1", 0, "t"),
        _image("b", "set2", 0, "u"),
        _image("a", "set3", 0, "t"),
        _image("b", "set3", 0, "t"),
    ]
    return ExperimentPlan(Path("."), 0.1, "t", "t", [], images)


def test_table11_counts_isotope_and_true_matches_at_the_threshold(plan) -> None:
    s1, s2, s3 = plan.role("set1"), plan.role("set2"), plan.role("set3")
    searches = [
        (s1[0], _search(("a_set1_0", 99.9), ("a_set1_1", 96.0))),
        (s1[1], NoFaceFound("M", "no face")),
        (s2[0], _search(("a_set2_0", 99.9))),  # its own copy carries its own mark u
        (s3[0], _search(("b_set2_0", 97.0), ("a_set2_0", 96.5), ("b_set1_0", 95.5))),
        (s3[1], _search(("b_set2_0", 94.0))),  # below the threshold: nothing
    ]
    table = table11(plan, searches, threshold=95.0)
    assert table["set1"] == {
        "probes": 2,
        "no_face": 1,
        "share_with_isotope_match": 0.5,
        "mean_isotope_rank": 1.0,
        "share_with_true_match": 0.5,
        "mean_true_rank": 1.0,
    }
    assert table["set2"]["share_with_isotope_match"] == 1.0
    # set3 probe of a: the first face carrying t is b's set1 (rank 3); a's own face at 2.
    assert table["set3"]["mean_isotope_rank"] == 3.0 and table["set3"]["mean_true_rank"] == 2.0
    assert table["set3"]["share_with_isotope_match"] == 0.5


def test_isotope_pull_compares_set1_with_set2_of_the_same_person() -> None:
    search = _search(("a1", 98.0), ("a2", 90.0), ("x", 85.0), max_faces=3)
    assert isotope_pull(search, {"a1"}, {"a2"}, 0.0) == nearness(98.0) - nearness(90.0)
    # Not listed in a full reply: at most the lowest listed similarity.
    assert best_similarity(search, {"zz"}, 0.0) == 85.0
    assert best_similarity(_search(("a1", 98.0)), {"zz"}, 50.0) == 50.0  # else the threshold
    assert best_similarity(NoFaceFound("M", "none"), {"a1"}, 50.0) == 50.0
