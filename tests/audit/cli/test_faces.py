"""``isotope faces ...`` and ``isotope audit faces`` against the local face engine.

Faces come from scikit-image's LFW subset (``audit.demo.face_samples``); dlib loads once
for the module. Identities for ``prepare rekognition`` (11 photos each) are one LFW
face shifted and re-lit eleven ways.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageEnhance
from typer.testing import CliRunner

from audit.cli.app import app
from audit.demo.face_samples import lfw_faces
from audit.faces.enroll import Enroller, EnrollItem
from audit.spending.ledger import Ledger
from marks.blend import blend
from marks.kinds import make_mark
from marks.store import MarkStore
from providers.faces_local.engine import FaceEngine
from providers.faces_local.server import FaceServer, serve_in_background
from providers.query import QueryImage
from providers.rekognition.collection import RekognitionCollection
from providers.rekognition.connection import RekognitionConnection

ALPHA = "0.1"


@pytest.fixture(scope="module")
def engine() -> FaceEngine:
    return FaceEngine(workers=2)


@pytest.fixture(scope="module")
def server(engine: FaceEngine, tmp_path_factory: pytest.TempPathFactory) -> Iterator[FaceServer]:
    running = serve_in_background(tmp_path_factory.mktemp("engine"), engine=engine)
    yield running
    running.stop()


@pytest.fixture(scope="module")
def faces(engine: FaceEngine) -> list[np.ndarray]:
    """LFW faces dlib finds, also when marked at ``ALPHA``."""
    mark = make_mark("check", "procedural", seed=1)
    found = [
        face
        for face in lfw_faces()[:40]
        if len(engine.detect(face)) == 1 and len(engine.detect(blend(face, mark, 0.1))) == 1
    ]
    assert len(found) >= 18
    return found


@pytest.fixture(scope="module")
def scene(tmp_path_factory: pytest.TempPathFactory, faces, server) -> dict:
    """A store with your mark, your photos marked by ``isotope mark``, and a collection
    ("copies") that enrolled ten strangers and every copy you posted."""
    root = tmp_path_factory.mktemp("scene")
    for i, face in enumerate(faces[:6]):
        path = root / "mine" / f"p{i}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        Image.fromarray(face).save(path)
    store = MarkStore.open(root / "store")
    store.add(make_mark("mine", "procedural", seed=21))
    result = CliRunner().invoke(
        app,
        [
            "mark",
            str(root / "mine"),
            "--mark",
            "mine",
            "--out",
            str(root / "posted"),
            "--alpha",
            ALPHA,
            "--fraction",
            "0.5",
            "--store",
            str(root / "store"),
        ],
    )
    assert result.exit_code == 0, result.output
    files = [*sorted((root / "posted").glob("*.png"))]
    for i, face in enumerate(faces[6:16]):
        Image.fromarray(face).save(root / f"stranger{i}.png")
        files.append(root / f"stranger{i}.png")
    connection = RekognitionConnection(endpoint_url=server.base_url, dummy_credentials=True)
    collection = RekognitionCollection("copies", connection=connection, provider="local")
    collection.create()
    ledger = Ledger.in_workspace(root / "service")
    items = [
        EnrollItem(f"f{i}", lambda p=p: QueryImage(p.read_bytes(), "image/png"))
        for i, p in enumerate(files)
    ]
    enroller = Enroller(collection, ledger)
    enroller.run(enroller.plan(items))
    ledger.close()
    return {"root": root, "url": server.base_url}


def invoke(scene: dict, *args: str, workspace: str | None = "ws") -> tuple[int, dict | None, str]:
    """Run the CLI; ``workspace`` None for commands without --store/--workspace."""
    root = scene["root"]
    common = []
    if workspace is not None:
        common = ["--store", str(root / "store"), "--workspace", str(root / workspace)]
    result = CliRunner().invoke(app, [*args, *common])
    payload = None
    for text in (result.stdout, *result.stdout.strip().splitlines()[-1:]):
        try:
            payload = json.loads(text)
            break
        except json.JSONDecodeError:
            continue
    return result.exit_code, payload, result.stderr


def audit_faces(scene: dict, *extra: str, collection: str = "copies", ws: str = "ws") -> tuple:
    return invoke(
        scene,
        "audit", "faces", "--provider", "local", "--endpoint-url", scene["url"],
        "--collection", collection, "--mark", "mine", "--n", "3", "--externals", "9",
        "--level", "0.1", "--json", *extra, workspace=ws,
    )  # fmt: skip


def test_audit_faces_json_has_the_audit_fields_and_detects(scene) -> None:
    code, out, _ = audit_faces(scene)
    assert code == 0
    shared = {
        "verdict", "method", "statistic", "label", "p_value", "level", "calibration", "exact",
        "exact_reason", "null_hypothesis", "reason", "model", "queries", "cost_usd", "rounds",
        "report", "notes",
    }  # fmt: skip
    assert shared <= set(out)
    assert out["verdict"] == "detected" and out["method"] == "calibrated"
    assert out["p_value"] == 0.1 and out["exact"] is True
    assert {k: out["queries"][k] for k in ("billed", "cached", "attempts")} == {
        "billed": 30,
        "cached": 0,
        "attempts": 30,
    }
    assert out["model"]["identity"].startswith("copies@face-model-dlib")
    assert out["metrics"]["true_mark"]["share_with_match"] == 1.0
    summary = (Path(out["report"]) / "summary.txt").read_text()
    assert "verdict: detected" in summary
    # Run again: every search comes from the ledger.
    code, again, _ = audit_faces(scene)
    assert code == 0 and again["queries"]["billed"] == 0 and again["queries"]["cached"] == 30


def test_dry_run_plans_and_sends_nothing(scene, server) -> None:
    before = server.faults.requests
    code, plan, _ = audit_faces(scene, "--dry-run", "--method", "sequential")
    assert code == 0 and plan["dry_run"] is True
    assert plan["first_searches"] == 6 and plan["max_searches"] == 30
    assert plan["probes_available"] == 3 and plan["alpha"] == 0.1
    assert server.faults.requests == before


def test_exit_codes(scene) -> None:
    code, out, err = audit_faces(scene, "--collection", "nobody-here", ws="other")
    assert code == 1 and out["kind"] == "provider" and "nobody-here" in err
    code, out, _ = invoke(
        scene, "audit", "faces", "--provider", "local", "--endpoint-url", scene["url"],
        "--collection", "copies", "--mark", "not-a-mark", "--json",
    )  # fmt: skip
    assert code == 2 and out["kind"] == "bad_input"
    code, out, _ = audit_faces(
        scene, "--method", "sequential", "--budget-queries", "10", ws="fresh"
    )
    assert code == 3 and out["verdict"] == "inconclusive" and out["queries"]["billed"] <= 10
    code, out, _ = audit_faces(scene, "--budget-queries", "10")  # one step of 30 cannot fit
    assert code == 2 and "budget" in out["error"]
    code, out, _ = audit_faces(scene, "--live", "--method", "sequential", ws="live")
    assert code == 2 and "--live needs the calibrated test" in out["error"]
    code, out, err = audit_faces(scene, "--seed", "-5", ws="seeded")
    assert code == 2 and out["kind"] == "bad_input" and "--seed" in out["error"], err


def test_create_describe_delete(scene) -> None:
    base = [
        "--provider",
        "local",
        "--endpoint-url",
        scene["url"],
        "--collection",
        "tmp-c",
        "--json",
    ]
    code, created, _ = invoke(scene, "faces", "create", *base, workspace=None)
    assert code == 0 and created["face_count"] == 0
    code, described, _ = invoke(scene, "faces", "describe", *base, workspace=None)
    assert described["model"] == "tmp-c@face-model-" + created["face_model_version"] + "#faces=0"
    assert invoke(scene, "faces", "delete", *base, workspace=None)[0] == 0
    code, out, _ = invoke(scene, "faces", "describe", *base, workspace=None)
    assert code == 1 and out["kind"] == "provider"


def _identity(folder: Path, face: np.ndarray) -> Path:
    """Eleven photos of one person: the face shifted and re-lit."""
    folder.mkdir(parents=True)
    image = Image.fromarray(face)
    for k in range(11):
        dx, dy = (k % 3 - 1) * 2, (k // 3 % 3 - 1) * 2
        moved = image.transform(image.size, Image.Transform.AFFINE, (1, 0, dx, 0, 1, dy))
        ImageEnhance.Brightness(moved).enhance(0.92 + 0.015 * k).save(folder / f"{k}.png")
    return folder


def test_enroll_is_idempotent_and_the_experiment_reports_table11(scene, faces) -> None:
    root = scene["root"]
    store = MarkStore.open(root / "store")
    for i in range(5):
        store.add(make_mark(f"other{i}", "procedural", seed=100 + i))
    people = [_identity(root / "people" / name, faces[16 + i]) for i, name in enumerate("ab")]
    plan = root / "plan"
    code, _, err = invoke(
        scene, "prepare", "rekognition", str(plan), "--identity", f"a={people[0]}",
        "--identity", f"b={people[1]}", "--mark", "mine", "--alpha", ALPHA,
        *[arg for i in range(5) for arg in ("--set2-mark", f"other{i}")], "--json",
        "--store", str(root / "store"), workspace=None,
    )  # fmt: skip
    assert code == 0, err
    base = ["--provider", "local", "--endpoint-url", scene["url"], "--collection", "exp"]
    code, dry, _ = invoke(scene, "faces", "enroll", str(plan), *base, "--dry-run", "--json")
    assert code == 0 and dry["collection_existed"] is False and dry["to_send"] == 20
    assert dry["cost_usd"] == 0.0 and not dry["collection_created"]  # the dry run made nothing
    assert dry["storage_usd_per_month"] == 0.0
    code, first, _ = invoke(scene, "faces", "enroll", str(plan), *base, "--json")
    assert code == 0 and first["collection_created"] and first["to_send"] == 20
    assert first["indexed"] + len(first["not_indexed"]) == 20
    code, again, _ = invoke(scene, "faces", "enroll", str(plan), *base, "--json")
    assert code == 0 and again["to_send"] == 0 and again["queries"]["billed"] == 0
    code, out, err = invoke(
        scene, "faces", "experiment", str(plan), *base, "--externals", "9", "--level", "0.1",
        "--json",
    )  # fmt: skip
    assert code == 0, err
    table = out["table11"]
    assert [table[role]["probes"] for role in ("set1", "set2", "set3")] == [10, 10, 2]
    # set1 and set2 probes are the enrolled images themselves: each matches its own copy.
    assert first["indexed"] == 20
    for role in ("set1", "set2"):
        assert table[role]["share_with_isotope_match"] == 1.0
        assert table[role]["mean_isotope_rank"] == table[role]["mean_true_rank"] == 1.0
    assert out["exact"] is True and out["p_value"] in [k / 10 for k in range(1, 11)]
    assert (out["verdict"] == "detected") == (out["p_value"] <= 0.1)
    # The set3 probes rebuilt with the mark are the plan's files byte for byte (cached);
    # each external mark costs one search per set3 photo.
    externals = out["rounds"][-1]["externals_queried"]
    assert out["queries"]["cached"] == 2 and out["queries"]["billed"] == 22 + 2 * externals
    assert out["enrollment"]["queries"]["billed"] == 0  # enrolled already
    assert out["paper_table11"]["set3"]["mean_isotope_rank"] == 4.8


def test_serve_runs_the_local_engine(monkeypatch, tmp_path) -> None:
    calls = []
    monkeypatch.setattr(
        "providers.faces_local.server.serve",
        lambda host, port, data_dir, *, workers: calls.append((host, port, data_dir, workers)),
    )
    result = CliRunner().invoke(
        app, ["faces", "serve", "--port", "9123", "--data", str(tmp_path / "d"), "--workers", "1"]
    )
    assert result.exit_code == 0, result.output
    assert calls == [("127.0.0.1", 9123, tmp_path / "d", 1)]


def test_rekognition_dry_run_prices_the_audit_and_sends_nothing(scene, monkeypatch) -> None:
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")  # never used: nothing is sent
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    code, plan, err = invoke(
        scene, "audit", "faces", "--provider", "rekognition", "--region", "us-east-1",
        "--collection", "their-collection", "--mark", "mine", "--dry-run", "--json",
        "--budget-usd", "1",
    )  # fmt: skip
    assert code == 0, err
    assert plan["provider"] == "rekognition" and plan["target"] == "us-east-1/their-collection"
    assert plan["price_per_search"] == 0.001 and plan["max_searches"] == 300  # 100 marks × 3
    assert plan["worst_case_usd"] == pytest.approx(0.3) and plan["budget_usd"] == 1.0
