"""Third-party face audits end to end: real boto3 against the local face engine.

Each collection holds ten strangers and, depending on the test, the copies "you"
posted (three of six photos marked), your unmarked originals, or nothing of yours.
The calibrated test with 9 externals at level 0.1 (30 searches) keeps them fast.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from audit.exit_codes import ExitCode
from audit.faces.probes import probes_from_folder, probes_from_manifest
from audit.faces.request import FaceAuditRequest
from audit.faces.run import run_face_audit
from audit.spending.budget import Budget
from audit.spending.ledger import Ledger
from audit.verifiers.registry import build_verifier
from audit.verifiers.verdict import Verdict
from providers.errors import ModelChangedError
from providers.faces_local.faults import FaultPlan
from providers.query import QueryImage
from providers.retry import RetryPolicy

FAST = {"n": 3, "externals": 9, "level": 0.1}


def _request(person, collection, *, method="calibrated", budget=None, probes=None, **options):
    return FaceAuditRequest(
        collection=collection,
        verifier=build_verifier(method, command="faces", **{**FAST, **options}),
        mark=person.mark,
        probes=probes or probes_from_manifest(person.store, person.mark),
        budget=budget or Budget.unlimited(),
        store=person.store,
        retry=RetryPolicy(initial_backoff_s=0.01, max_backoff_s=0.05),
    )


def test_detected_on_the_posted_copies_not_on_the_originals(
    person, strangers, build, copies, tmp_path
) -> None:
    originals = build([*strangers, *person.original_files()])
    outcomes = {
        name: run_face_audit(_request(person, collection), workspace=tmp_path / "ws")
        for name, collection in (("copies", copies), ("originals", originals))
    }
    found = outcomes["copies"]
    assert found.result.verdict is Verdict.DETECTED and found.result.p_value == 0.1
    assert found.result.exact and found.counts.billed == 30
    assert found.metrics["share_true_mark_closest"] == 1.0
    assert found.metrics["true_mark"]["mean_top_similarity"] > 99.5
    clean = outcomes["originals"]
    assert clean.result.verdict is Verdict.NOT_DETECTED and clean.result.p_value > 0.1
    assert clean.result.exact and clean.counts.billed == 30
    assert "came closest of all marks on 100% of 3 photos" in found.report.summary.read_text()
    assert "enrolled them altered" in clean.report.summary.read_text()  # the faces caveat
    # Reports hold no file paths, fingerprints or pixels of the mark.
    report = json.loads((found.report.folder / "report.json").read_text())
    text = json.dumps(report)
    assert person.mark.fingerprint not in text and str(person.originals) not in text
    assert report["probes"]["identical_to_posted"] == report["probes"]["with_posted_digest"] == 3
    assert report["statistic"] == "face_match" and report["result"]["verdict"] == "detected"


def test_not_detected_and_stopped_early_on_a_collection_with_nothing_of_yours(
    person, strangers, build, tmp_path
) -> None:
    nothing = build(strangers)
    outcome = run_face_audit(
        _request(person, nothing, method="sequential"), workspace=tmp_path / "ws"
    )
    assert outcome.result.verdict is Verdict.NOT_DETECTED
    assert outcome.result.details["stopped_early"] and outcome.counts.billed == 6  # 2 marks × 3


def test_killed_audit_resumes_without_paying_twice(person, copies, tmp_path) -> None:
    answered = []

    def kill_after_12(n: int) -> None:
        answered.append(n)
        if sum(answered) >= 12:
            raise KeyboardInterrupt  # the person pressed Ctrl-C mid-audit

    request = _request(person, copies)
    with pytest.raises(KeyboardInterrupt):
        run_face_audit(request, workspace=tmp_path / "ws", progress=kill_after_12)
    ledger = Ledger.in_workspace(tmp_path / "ws")
    paid_before = ledger.totals()["queries"]
    ledger.close()
    assert 12 <= paid_before < 30
    resumed = run_face_audit(_request(person, copies), workspace=tmp_path / "ws")
    assert resumed.result.verdict is Verdict.DETECTED
    assert resumed.counts.cached == paid_before and resumed.counts.billed == 30 - paid_before


def test_budget_is_never_exceeded(person, copies, tmp_path) -> None:
    request = _request(person, copies, method="sequential", budget=Budget(10, None, 0.001))
    outcome = run_face_audit(request, workspace=tmp_path / "ws")
    assert outcome.result.verdict is Verdict.INCONCLUSIVE
    assert outcome.result.reason == "budget spent" and outcome.exit_code is ExitCode.BUDGET
    assert outcome.counts.billed <= 10 and outcome.counts.cost_usd <= 0.010 + 1e-12


def test_probes_without_a_face_are_outcomes(person, copies, tmp_path, kit) -> None:
    folder = tmp_path / "probes"
    kit.save(folder / "blank.png", kit.photo(100, 100, seed=1) * 0 + 128)  # no face at all
    for entry in json.loads(person.marking.manifest.read_text())["files"]:
        if entry["marked"]:
            (folder / entry["source"]).write_bytes(
                (person.originals / entry["source"]).read_bytes()
            )
    probes = probes_from_folder(folder, 0.1)
    assert len(probes.probes) == 4
    outcome = run_face_audit(
        _request(person, copies, probes=probes, n=4), workspace=tmp_path / "ws"
    )
    assert outcome.metrics["true_mark"]["share_no_face"] == 0.25
    assert outcome.result.verdict is Verdict.DETECTED  # the three real copies decide it


def test_throttling_ends_with_the_same_verdict(person, copies, server, tmp_path) -> None:
    server.faults.plan = FaultPlan(
        throttle=0.2, server_error=0.1, seed=7, operations=frozenset({"SearchFacesByImage"})
    )
    try:
        busy = run_face_audit(_request(person, copies), workspace=tmp_path / "busy")
    finally:
        server.faults.plan = FaultPlan()
    assert server.faults.injected["throttle"] > 0
    # As without faults (the first test): detected at the floor, each search paid once.
    assert busy.result.verdict is Verdict.DETECTED and busy.result.p_value == 0.1
    assert busy.counts.billed == 30 and busy.counts.attempts > busy.counts.billed


def test_a_collection_changed_mid_audit_stops_the_audit(
    person, strangers, build, connect, tmp_path
) -> None:
    copies = build([*strangers, *person.posted_files()])  # its own: this test changes it
    auditing = connect(copies.collection_id, identity_max_age_s=0.0)
    changer = connect(copies.collection_id)
    extra = QueryImage(Path(strangers[0]).read_bytes(), "image/png")
    changed: list = []

    def someone_enrolls(_n: int) -> None:  # the service enrolls a face mid-audit
        if not changed:
            changed.append(changer.enroll([extra], ["newcomer"]))

    with pytest.raises(ModelChangedError, match="changed during the audit"):
        run_face_audit(
            _request(person, auditing), workspace=tmp_path / "ws", progress=someone_enrolls
        )


def test_a_live_collection_goes_on_across_new_faces_and_says_approximate(
    person, strangers, build, connect, tmp_path
) -> None:
    copies = build([*strangers, *person.posted_files()])  # its own: this test changes it
    auditing = connect(copies.collection_id, identity_max_age_s=0.0)
    changer = connect(copies.collection_id)
    extra = QueryImage(Path(strangers[1]).read_bytes(), "image/png")
    changed: list = []

    def someone_enrolls(_n: int) -> None:
        if not changed:
            changed.append(changer.enroll([extra], ["newcomer"]))

    request = _request(person, auditing)
    request.live = True
    outcome = run_face_audit(request, workspace=tmp_path / "ws", progress=someone_enrolls)
    assert changed and outcome.counts.billed == 30
    assert outcome.result.verdict is Verdict.DETECTED  # the copies are still there
    assert not outcome.result.exact and "approximate" in outcome.result.calibration
    assert "changed during the audit" in outcome.result.exact_reason
    assert any("#faces=" in note for note in outcome.notes)
    summary = outcome.report.summary.read_text()
    assert "approximate" in summary
    # Resumed on the grown collection: every search from the ledger, nothing paid twice.
    again = _request(person, connect(copies.collection_id))
    again.live = True
    resumed = run_face_audit(again, workspace=tmp_path / "ws")
    assert resumed.counts.billed == 0 and resumed.counts.cached == 30


def test_a_live_audit_refuses_the_sequential_test(person, copies, tmp_path) -> None:
    from audit.errors import AuditInputError

    request = _request(person, copies, method="sequential")
    request.live = True
    with pytest.raises(AuditInputError, match="--live needs the calibrated test"):
        run_face_audit(request, workspace=tmp_path / "ws")
