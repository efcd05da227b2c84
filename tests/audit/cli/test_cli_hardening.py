"""``isotope`` against careless and hostile input: one-line errors, the right exit code,
nothing spent when a check could have been made first, JSON even on Ctrl-C."""

from __future__ import annotations

import asyncio
import contextlib
import json
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from fastapi import FastAPI, Request
from typer.testing import CliRunner

from audit.cli import audit as cli_audit
from audit.cli.app import app
from marks.kinds import make_mark
from marks.store import MarkStore
from providers.http.background_server import BackgroundServer
from providers.mock.target import mock_from_target
from providers.rate_limit import RateLimiter

FAST = ["--externals", "4", "--n", "8", "--level", "0.2"]
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def setup(tmp_path, make_image_folder):
    store = MarkStore.open(tmp_path / "store")
    store.add(make_mark("mine", "procedural", seed=11))
    for index, label in enumerate(["dog", "ship", "cat"]):
        make_image_folder(tmp_path / "aux" / label, 6, seed=index, size=12)
    make_image_folder(tmp_path / "own", 5, seed=9, size=12)
    return tmp_path


class Counting:
    """The mock model, counting the images it is asked about."""

    def __init__(self, labels: str = "labels=cat+dog+ship") -> None:
        self.inner = mock_from_target(labels, resolve_mark=lambda name: name)
        self.provider, self.target = "mock", self.inner.target
        self.max_batch, self.max_concurrency = 64, 1
        self.asked = 0

    @property
    def parameters(self):
        return self.inner.parameters

    def labels(self):
        return self.inner.labels()

    def model_identity(self):
        return self.inner.model_identity()

    def classify(self, images):
        self.asked += len(images)
        return self.inner.classify(images)


@pytest.fixture
def counting(monkeypatch) -> Counting:
    model = Counting()
    monkeypatch.setattr(cli_audit, "build_provider", lambda *a, **k: (model, RateLimiter(None)))
    return model


def run(root: Path, *args: str) -> tuple[int, dict | None, str]:
    base = ["--store", str(root / "store"), "--workspace", str(root / "ws")]
    result = CliRunner().invoke(app, ["audit", *args, *base])
    lines = result.stdout.strip().splitlines()
    try:
        payload = json.loads(lines[-1]) if lines else None
    except json.JSONDecodeError:
        payload = None
    return result.exit_code, payload, result.stderr


def probability(root: Path, *extra: str) -> tuple[int, dict | None, str]:
    return run(root, "probability", "--mark", "mine", "--label", "cat", "--aux",
               str(root / "aux"), *FAST, "--json", *extra)  # fmt: skip


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        (["--budget-usd", "inf"], "--budget-usd"),
        (["--budget-usd", "nan"], "--budget-usd"),
        (["--price-per-query", "1e-320", "--budget-usd", "5"], "--price-per-query"),
        (["--seed", "-5"], "--seed"),
        (["--budget-queries", "10000000000000"], "--budget-queries"),
    ],
)
def test_absurd_numbers_are_refused_by_name_before_any_query(setup, counting, extra, named):
    code, out, err = probability(setup, *extra)
    assert code == 2 and out is not None and named in out["error"], err
    assert "Traceback" not in err and "OverflowError" not in err
    assert counting.asked == 0


@pytest.mark.parametrize(
    ("content", "problem"),
    [
        (b"garbage, not sqlite" * 64, "damaged or not an isotope ledger"),
        ("photos", "not an isotope ledger"),
    ],
)
def test_a_damaged_or_foreign_ledger_is_named(setup, counting, content, problem):
    ledger = setup / "ws" / "ledger.sqlite"
    ledger.parent.mkdir()
    if isinstance(content, bytes):
        ledger.write_bytes(content)
    else:
        with contextlib.closing(sqlite3.connect(ledger)) as db, db:
            db.execute(f"CREATE TABLE {content} (path TEXT)")
    code, out, err = probability(setup)
    assert code == 2 and out is not None, err
    assert problem in out["error"] and str(ledger) in out["error"]
    assert "Traceback" not in err and counting.asked == 0


def test_a_report_path_that_cannot_be_used_is_refused_before_paying(setup, counting):
    taken = setup / "taken"
    taken.mkdir()
    (taken / "report.json").write_text("{}")
    code, out, _ = probability(setup, "--report", str(taken))
    assert code == 2 and out is not None and "already holds files" in out["error"]
    assert counting.asked == 0 and (taken / "report.json").read_text() == "{}"
    a_file = setup / "a-file"
    a_file.write_text("x")
    code, out, _ = probability(setup, "--report", str(a_file))
    assert code == 2 and out is not None and "is a file" in out["error"]
    assert counting.asked == 0
    empty = setup / "empty-report"
    empty.mkdir()
    code, out, err = probability(setup, "--report", str(empty))
    assert code == 0, err
    assert (empty / "report.json").exists() and counting.asked > 0


def test_scan_own_sends_nothing_in_a_dry_run_and_checks_the_budget_first(setup, counting):
    args = ["scan", "--mark", "mine", "--aux", str(setup / "aux"), "--own", str(setup / "own"),
            *FAST, "--json"]  # fmt: skip
    code, out, err = run(setup, *args, "--dry-run")
    assert code == 0 and out is not None and out["dry_run"] is True, err
    assert counting.asked == 0
    code, out, _ = run(setup, *args, "--budget-queries", "6")
    assert code == 2 and out is not None and "budget" in out["error"]
    assert counting.asked == 0  # not even the own images were asked about


def test_a_model_listing_a_label_twice_is_named(setup, monkeypatch):
    model = Counting()
    monkeypatch.setattr(model, "labels", lambda: ["cat", "dog", "cat", "ship"])
    monkeypatch.setattr(cli_audit, "build_provider", lambda *a, **k: (model, RateLimiter(None)))
    code, out, err = probability(setup)
    assert code == 1 and out is not None, err
    assert "'cat' more than once" in out["error"] and "missing" not in out["error"]
    assert model.asked == 0


# -- Ctrl-C with --json ------------------------------------------------------------------

LABELS = ["cat", "dog", "ship"]


def _slow_vertex(delay: float, started: threading.Event) -> FastAPI:
    app = FastAPI()

    @app.get("/model")
    def info():
        return {"labels": LABELS}

    @app.post("/v1/projects/local/locations/us-central1/endpoints/local:predict")
    async def predict(request: Request):
        body = await request.json()
        started.set()
        await asyncio.sleep(delay)
        n = len(body["instances"])
        row = {"displayNames": LABELS, "confidences": [0.5, 0.3, 0.2]}
        return {"predictions": [row] * n}

    return app


def test_ctrl_c_with_json_still_prints_one_json_object(setup):
    started = threading.Event()
    with BackgroundServer(_slow_vertex(30.0, started)) as slow:
        child = subprocess.Popen(
            [sys.executable, "-c", "from audit.cli.app import main; main()", "audit",
             "probability", "--provider",
             "local", "--target", slow.base_url, "--mark", "mine", "--label", "cat", "--aux",
             str(setup / "aux"), *FAST, "--json", "--store", str(setup / "store"),
             "--workspace", str(setup / "ws")],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT,
        )  # fmt: skip
        try:
            assert started.wait(60), child.stderr.read() if child.poll() is not None else ""
            time.sleep(0.3)
            child.send_signal(signal.SIGINT)
            stdout, stderr = child.communicate(timeout=60)
        finally:
            if child.poll() is None:
                child.kill()
    assert child.returncode == 130, stderr
    payload = json.loads(stdout.strip().splitlines()[-1])
    assert payload["kind"] == "interrupted" and payload["exit_code"] == 130


def test_ctrl_c_outside_a_guarded_part_still_prints_json(tmp_path, monkeypatch):
    from audit.cli import marks as cli_marks

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    MarkStore.open(tmp_path / "store")
    monkeypatch.setattr(cli_marks, "print_json", interrupted)  # printing, after the guard
    result = CliRunner().invoke(
        app, ["marks", "list", "--store", str(tmp_path / "store"), "--json"]
    )
    assert result.exit_code == 130
    assert json.loads(result.stdout.strip().splitlines()[-1]) == {
        "error": "interrupted", "kind": "interrupted", "exit_code": 130
    }  # fmt: skip


# -- other commands ----------------------------------------------------------------------


def test_train_out_is_checked_before_training(tmp_path, make_image_folder):
    for label in ("a", "b"):
        make_image_folder(tmp_path / "data" / label, 4, size=8)
    folder = tmp_path / "models"
    folder.mkdir()
    started = time.monotonic()
    result = CliRunner().invoke(
        app, ["train", str(tmp_path / "data"), "--out", str(folder), "--epochs", "500"]
    )
    assert result.exit_code == 2 and "is a folder" in result.stderr
    assert time.monotonic() - started < 20  # 500 epochs would take minutes


def test_serve_refuses_a_blank_host_before_anything(tmp_path):
    result = CliRunner().invoke(app, ["serve", str(tmp_path / "none.pt"), "--host", ""])
    assert result.exit_code == 2 and "--host is empty" in result.stderr
    assert "http://:" not in result.stderr


def test_marks_list_names_a_damaged_mark_and_lists_the_others(tmp_path):
    store = MarkStore.open(tmp_path / "store")
    store.add(make_mark("good", "procedural", seed=1))
    store.add(make_mark("broken", "procedural", seed=2))
    damaged = store.marks_dir / "broken.mark"
    damaged.write_bytes(damaged.read_bytes()[:100])
    result = CliRunner().invoke(app, ["marks", "list", "--store", str(store.root), "--json"])
    assert result.exit_code == 2, result.stderr
    rows = {row["name"]: row for row in json.loads(result.stdout)["marks"]}
    assert rows["good"]["kind"] == "procedural" and "problem" not in rows["good"]
    assert str(damaged) in rows["broken"]["problem"]
    plain = CliRunner().invoke(app, ["marks", "list", "--store", str(store.root)])
    assert "good" in plain.stdout and "broken" in plain.stdout and str(damaged) in plain.stderr


def test_mark_resume_finishes_an_interrupted_run_and_summary_counts_skipped(tmp_path, kit):
    store = MarkStore.open(tmp_path / "store")
    store.add(make_mark("t", "procedural", seed=7))
    src = tmp_path / "src"
    for i in range(12):
        kit.save(src / f"p{i}.jpg", kit.photo(seed=i), quality=90)
    (src / "IMG_1.HEIC").write_bytes(b"not read")
    out = tmp_path / "out"
    (out).mkdir()
    (out / "p0.jpg").write_bytes(np.zeros(4, np.uint8).tobytes())  # not ours: no journal
    args = ["mark", str(src), "--mark", "t", "--out", str(out), "--store", str(store.root)]
    refused = CliRunner().invoke(app, args)
    assert refused.exit_code == 2 and "not an empty folder" in refused.stderr
    (out / "p0.jpg").unlink()
    done = CliRunner().invoke(app, [*args, "--resume"])
    assert done.exit_code == 0, done.stderr
    assert "skipped 1 file(s)" in done.stderr and "1 .heic" in done.stderr
