"""The ledger under faults: a full disk, bad replies, two audits at once, a slow service,
a damaged or foreign file. Nothing paid for is lost, nothing bad is cached, nothing is
paid twice."""

from __future__ import annotations

import contextlib
import json
import random
import sqlite3
import subprocess
import sys
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI, Request

from audit.errors import BudgetExhausted, LedgerError, WorkspaceBusyError
from audit.spending.budget import Budget
from audit.spending.ledger import LEDGER_FILE, Ledger, LedgeredClassifier
from providers.errors import BadReplyError, ProviderError
from providers.http.background_server import BackgroundServer
from providers.local.client import LocalClassifier
from providers.query import QueryImage
from providers.retry import RetryPolicy
from providers.scores import OutputMode, Scores

ROOT = Path(__file__).resolve().parents[3]


def no_wait_retry(attempts: int = 6) -> RetryPolicy:
    return RetryPolicy(max_attempts=attempts, sleep=lambda s: None, rng=random.Random(0))


def rows(path: Path, table: str = "queries") -> int:
    with contextlib.closing(sqlite3.connect(path)) as db:
        return int(db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0])


# -- a full disk -------------------------------------------------------------------------


def _fill_after(ledger: Ledger, pages: int) -> None:
    """Let the database grow by only ``pages`` more pages: then SQLite reports it full."""
    (count,) = ledger._db.execute("PRAGMA page_count").fetchone()
    ledger._db.execute(f"PRAGMA max_page_count = {count + pages}")


def test_a_full_ledger_keeps_what_it_committed_and_stops_with_a_message(
    tmp_path, fake_classifier, make_query_images
):
    images = make_query_images(40)
    fake = fake_classifier(max_batch=4, reply=lambda image: Scores({"cat": 0.5, "dog": 0.5}))
    ledger = Ledger.in_workspace(tmp_path / "ws")
    ledgered = LedgeredClassifier(fake, ledger, retry=no_wait_retry())
    ledgered.classify(images[:8])  # committed before the disk fills
    _fill_after(ledger, 0)
    with pytest.raises(LedgerError) as caught:
        ledgered.classify(images[8:])
    message = str(caught.value)
    assert str(tmp_path / "ws" / LEDGER_FILE) in message and "full" in message
    assert "run the audit again" in message
    ledger.close()
    kept = rows(tmp_path / "ws" / LEDGER_FILE)
    assert 8 <= kept < 40  # what was committed is kept
    again = LedgeredClassifier(fake_classifier(), Ledger.in_workspace(tmp_path / "ws"))
    again.classify(images)
    assert (again.counts.cached, again.counts.billed) == (kept, 40 - kept)  # it resumes


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 400 kB tmpfs (root only; skipped where mounting is not allowed)."""
    mount = tmp_path / "small"
    mount.mkdir()
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=400k", "tmpfs", str(mount)], capture_output=True
    )
    if done.returncode != 0:
        pytest.skip(f"cannot mount a small tmpfs here: {done.stderr.decode().strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_really_full_disk_stops_cleanly_and_the_rerun_resumes(
    small_disk, fake_classifier, make_query_images
):
    big = {f"label{i:03d}": 1 / 200 for i in range(200)}  # ~6 kB per reply
    fake = fake_classifier(max_batch=5, reply=lambda image: Scores(big))
    images = make_query_images(200)
    workspace = small_disk / "ws"
    ballast = small_disk / "ballast"
    ballast.write_bytes(b"\0" * 100_000)
    ledgered = LedgeredClassifier(fake, Ledger.in_workspace(workspace), retry=no_wait_retry())
    with pytest.raises(LedgerError, match="full") as caught:
        ledgered.classify(images)
    assert "Traceback" not in str(caught.value)
    ledgered.ledger.close()
    kept = rows(workspace / LEDGER_FILE)
    assert 0 < kept < 200 and ledgered.counts.billed >= kept
    ballast.unlink()  # some space again: the rerun pays only for what was not kept
    again = LedgeredClassifier(fake_classifier(), Ledger.in_workspace(workspace))
    again.classify(images[:kept])
    assert (again.counts.cached, again.counts.billed) == (kept, 0)


# -- bad replies -------------------------------------------------------------------------


def _sometimes_bad(image: QueryImage) -> Scores:
    if image.data[-1] % 3 == 0:
        return Scores({"cat": -0.4, "dog": 1.4})  # negative
    if image.data[-1] % 3 == 1:
        return Scores({"cat": 0.9, "dog": 0.9})  # sums to 1.8
    return Scores({"cat": 0.3, "dog": 0.7})


def test_bad_replies_are_kept_as_evidence_never_as_answers(
    tmp_path, fake_classifier, make_query_images
):
    images = make_query_images(12)
    fake = fake_classifier(max_batch=4, reply=_sometimes_bad)
    ledgered = LedgeredClassifier(fake, Ledger.in_workspace(tmp_path / "ws"), retry=no_wait_retry())
    with pytest.raises(BadReplyError) as caught:
        ledgered.classify(images)
    assert "bad_replies" in str(caught.value) and "asked again" in str(caught.value)
    ledgered.ledger.close()
    path = tmp_path / "ws" / LEDGER_FILE
    good = sum(1 for image in images if image.data[-1] % 3 == 2)
    assert rows(path) < 12 and rows(path, "bad_replies") >= 1
    with contextlib.closing(sqlite3.connect(path)) as db:
        problems = [row[0] for row in db.execute("SELECT problem FROM bad_replies")]
    assert any("negative" in p or "outside [0, 1]" in p for p in problems) or any(
        "sum" in p for p in problems
    )
    # The service is fixed: a rerun asks again for exactly the replies that were bad.
    fixed = fake_classifier(max_batch=4)
    again = LedgeredClassifier(fixed, Ledger.in_workspace(tmp_path / "ws"))
    replies = again.classify(images)
    assert len(replies) == 12 and again.counts.cached == rows(path) - again.counts.billed
    assert again.counts.cached <= good


def test_a_bad_reply_cached_by_an_older_version_is_moved_aside_and_asked_again(
    tmp_path, fake_classifier, make_query_images
):
    images = make_query_images(3)
    fake = fake_classifier()
    ledgered = LedgeredClassifier(fake, Ledger.in_workspace(tmp_path / "ws"))
    ledgered.classify(images)
    ledgered.ledger.close()
    path = tmp_path / "ws" / LEDGER_FILE
    bad = json.dumps(Scores({"cat": 0.9, "dog": 0.9, "ship": 0.9}).to_json())
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        db.execute("UPDATE queries SET reply = ? WHERE rowid = 1", (bad,))
    again = LedgeredClassifier(fake_classifier(), Ledger.in_workspace(tmp_path / "ws"))
    again.classify(images)
    assert (again.counts.cached, again.counts.billed) == (2, 1)
    again.ledger.close()
    assert rows(path, "bad_replies") == 1 and rows(path) == 3


# -- two audits on one workspace ---------------------------------------------------------


def test_a_second_audit_on_a_busy_workspace_is_refused(tmp_path):
    workspace = tmp_path / "ws"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(
                f"""
                import sys, time
                from pathlib import Path
                from audit.spending.ledger import Ledger
                ledger = Ledger.in_workspace(Path({str(workspace)!r}))
                print("OPEN", flush=True)
                sys.stdin.readline()
                ledger.close()
                """
            ),
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "OPEN"
        with pytest.raises(WorkspaceBusyError) as caught:
            Ledger.in_workspace(workspace)
        message = str(caught.value)
        assert str(workspace) in message and f"process {holder.pid}" in message
        assert "--workspace" in message
    finally:
        holder.communicate("\n", timeout=30)
    Ledger.in_workspace(workspace).close()  # free again once the other audit ends


def test_instances_in_one_process_share_the_workspace(tmp_path):
    first = Ledger.in_workspace(tmp_path / "ws")
    second = Ledger.in_workspace(tmp_path / "ws")  # e.g. the label proposal, then the audit
    second.close()
    first.close()


# -- a slow service ----------------------------------------------------------------------


def _slow_server(delay: float, processed: list[int]) -> FastAPI:
    app = FastAPI()

    @app.post("/v1/projects/local/locations/us-central1/endpoints/local:predict")
    async def predict(request: Request):
        body = await request.json()
        processed.append(len(body["instances"]))  # the service did the work (and bills it)
        await __import__("asyncio").sleep(delay)
        n = len(body["instances"])
        return {"predictions": [{"displayNames": ["a"], "confidences": [1.0]}] * n}

    return app


def test_requests_that_time_out_count_against_the_budget(tmp_path, make_query_images):
    processed: list[int] = []
    with BackgroundServer(_slow_server(1.0, processed)) as slow:
        client = LocalClassifier(slow.base_url, output="top_k", k=1, timeout_s=0.2, max_batch=8)
        budget = Budget(16, None, 0.0)
        ledgered = LedgeredClassifier(
            client, Ledger.in_workspace(tmp_path / "ws"), budget, retry=no_wait_retry()
        )
        with pytest.raises((BudgetExhausted, ProviderError)):
            ledgered.classify(make_query_images(8))
        time.sleep(1.2)  # let the server finish what it received
    assert sum(processed) <= 16  # the server never did more work than the budget allows
    assert budget.spent_queries == sum(processed) == 16
    assert ledgered.counts.unanswered == 16


# -- a damaged or foreign ledger ---------------------------------------------------------


def test_a_damaged_ledger_is_named_not_a_traceback(tmp_path):
    workspace = tmp_path / "ws"
    workspace.mkdir()
    (workspace / LEDGER_FILE).write_bytes(b"this is not a database at all" * 100)
    with pytest.raises(LedgerError) as caught:
        Ledger.in_workspace(workspace)
    message = str(caught.value)
    assert str(workspace / LEDGER_FILE) in message and "damaged or not an isotope ledger" in message


@pytest.mark.parametrize(
    "schema",
    ["CREATE TABLE queries (a TEXT, b TEXT)", "CREATE TABLE photos (path TEXT, taken REAL)"],
)
def test_a_foreign_sqlite_file_is_refused_and_left_untouched(tmp_path, schema):
    workspace = tmp_path / "ws"
    workspace.mkdir()
    path = workspace / LEDGER_FILE
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        db.execute(schema)
    before = path.read_bytes()
    with pytest.raises(LedgerError, match="not an isotope ledger"):
        Ledger.in_workspace(workspace)
    assert path.read_bytes() == before
    with contextlib.closing(sqlite3.connect(path)) as db:
        tables = {row[0] for row in db.execute("SELECT name FROM sqlite_master")}
    assert "bad_replies" not in tables


def test_scores_mode_full_must_hold_labels(tmp_path, fake_classifier, make_query_images):
    fake = fake_classifier(reply=lambda image: Scores({}, mode=OutputMode.FULL))
    ledgered = LedgeredClassifier(fake, Ledger(tmp_path / "l.sqlite"))
    with pytest.raises(BadReplyError, match="no label"):
        ledgered.classify(make_query_images(1))
    assert ledgered.ledger.totals()["queries"] == 0
