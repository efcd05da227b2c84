"""Which of two marks' posted copies a collection enrolled: one exact test each, Holm."""

from __future__ import annotations

import pytest

from audit.errors import VerifierOptionError
from audit.faces.distinguish import externals_needed, holm, run_face_distinguish
from audit.faces.probes import probes_from_manifest
from audit.faces.request import FaceAuditRequest
from audit.spending.budget import Budget
from audit.verifiers.registry import build_verifier
from marks.kinds import make_mark
from marks.marking import mark_folder

LEVEL = 0.1  # two marks: Holm's smallest p is 2 / (K + 1), so K = 19 reaches 0.1


def test_holm_and_the_externals_it_needs() -> None:
    assert holm([0.01, 0.04, 0.03]) == pytest.approx([0.03, 0.06, 0.06])
    assert externals_needed(2, 0.2) == 9 and externals_needed(3, 0.01) == 299


def test_the_site_whose_copies_were_enrolled_is_named(person, strangers, build, tmp_path) -> None:
    other = make_mark("site-b", "procedural", seed=41)
    person.store.add(other, force=True)
    posted_b = tmp_path / "posted-b"
    mark_folder(person.originals, posted_b, other, alpha=0.1, fraction=0.5, seed=4,
                store=person.store)  # fmt: skip
    collection = build([*strangers, *person.posted_files()])  # site A's copies only

    def request(mark, budget, externals=19):
        return FaceAuditRequest(
            collection=collection,
            verifier=build_verifier(
                "calibrated", command="faces", n=3, externals=externals, level=LEVEL
            ),
            mark=mark,
            probes=probes_from_manifest(person.store, mark),
            budget=budget,
            store=person.store,
        )

    budget = Budget.unlimited()
    requests = {"mine": request(person.mark, budget), "site-b": request(other, budget)}
    outcome = run_face_distinguish(requests, level=LEVEL, workspace=tmp_path / "ws")
    assert outcome.enrolled == ["mine"], summary_of(outcome)
    summary = outcome.to_json()
    assert summary["verdict"] == "detected" and summary["exact"]
    assert summary["marks"]["mine"]["p_holm"] <= LEVEL < summary["marks"]["site-b"]["p_holm"]
    assert summary["queries"]["billed"] == budget.spent_queries == 2 * 3 * 20
    with pytest.raises(VerifierOptionError, match="--externals 19 or more"):
        run_face_distinguish(
            {"mine": request(person.mark, budget, 9), "site-b": request(other, budget, 9)},
            level=LEVEL,
            workspace=tmp_path / "ws2",
        )


def summary_of(outcome) -> dict:
    return {
        name: (o.result.p_value, outcome.adjusted[name]) for name, o in outcome.outcomes.items()
    }
