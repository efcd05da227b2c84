"""An audit killed mid-way (SIGKILL) resumes from the ledger without paying twice."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from audit.runner.run import run_probability_audit
from audit.spending.budget import Budget
from marks.kinds import make_mark
from marks.store import MarkStore
from providers.mock.classifier import MockClassifier

SCRIPT = """
import json, sys, time
from pathlib import Path
from audit.runner.run import run_probability_audit
from audit.spending.budget import Budget
from marks.kinds import make_mark
from marks.store import MarkStore
from providers.mock.classifier import MockClassifier

root, log, delay = Path(sys.argv[1]), Path(sys.argv[2]), float(sys.argv[3])

class SlowMock(MockClassifier):
    max_batch = 4
    max_concurrency = 2

    def classify(self, images):
        with open(log, "a") as fh:  # what was sent, before any reply
            fh.write("".join(image.digest + "\\n" for image in images))
        time.sleep(delay)
        return super().classify(images)

mark = make_mark("mine", "procedural", seed=7)
store = MarkStore.open(root / "store")  # keeps the externals' secret key for the resume
if "mine" not in store:
    store.add(mark)
model = SlowMock(["cat", "dog", "ship"], seed=3, planted={mark.fingerprint: ("cat", 25.0)})
outcome = run_probability_audit(
    model, mark=mark, externals=[], label="cat", aux_dir=root / "aux", alpha=0.4,
    method="calibrated", options={"n": 12, "externals": 4, "level": 0.2},
    workspace=Path(sys.argv[4]),
    budget=Budget(None, None, 0.0), report_dir=None, store=store,
)
print(json.dumps(outcome.to_json()))
"""


def ledger_digests(path: Path) -> set[str]:
    with sqlite3.connect(path) as db:
        return {row[0] for row in db.execute("SELECT image_digest FROM queries")}


def sent(log: Path) -> list[str]:
    return log.read_text().split() if log.exists() else []


@pytest.mark.slow
def test_killed_audit_resumes_without_paying_twice(tmp_path, make_image_folder):
    make_image_folder(tmp_path / "aux" / "dog", 20, size=12)
    script = tmp_path / "audit_script.py"
    script.write_text(SCRIPT)
    workspace = tmp_path / "ws"
    ledger = workspace / "ledger.sqlite"
    env = {**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[3])}

    def start(log: Path, delay: float, ws: Path) -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, str(script), str(tmp_path), str(log), str(delay), str(ws)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env=env,
            text=True,
        )

    first = start(tmp_path / "sent1.log", 0.15, workspace)
    deadline = time.monotonic() + 120  # generous: CI machines may be busy
    recorded: set[str] = set()
    while time.monotonic() < deadline and first.poll() is None:
        if ledger.exists():
            try:
                recorded = ledger_digests(ledger)
            except sqlite3.OperationalError:
                recorded = set()  # schema not created yet
            if len(recorded) >= 16:
                break
        time.sleep(0.05)
    assert first.poll() is None, f"audit ended before it could be killed: {first.stderr.read()}"
    first.send_signal(signal.SIGKILL)
    first.wait()
    at_kill = ledger_digests(ledger)  # everything committed before the kill
    assert 16 <= len(at_kill) < 60  # 5 marks x 12 images in all

    second = start(tmp_path / "sent2.log", 0.0, workspace)
    out, err = second.communicate(timeout=120)
    assert second.returncode == 0, err
    resumed = json.loads(out)
    resent = sent(tmp_path / "sent2.log")
    assert not at_kill & set(resent), "a query recorded before the kill was paid for again"
    assert resumed["queries"]["cached"] == len(at_kill)
    assert resumed["queries"]["billed"] == len(resent) == 60 - len(at_kill)
    assert len(ledger_digests(ledger)) == 60

    # The same audit, uninterrupted, in-process: same verdict, same evidence.
    mark = make_mark("mine", "procedural", seed=7)
    planted = {mark.fingerprint: ("cat", 25.0)}
    model = MockClassifier(["cat", "dog", "ship"], seed=3, planted=planted)
    uninterrupted = run_probability_audit(
        model,
        mark=mark,
        externals=[],
        label="cat",
        aux_dir=tmp_path / "aux",
        alpha=0.4,
        method="calibrated",
        options={"n": 12, "externals": 4, "level": 0.2},
        workspace=tmp_path / "fresh-ws",
        budget=Budget(None, None, 0.0),
        report_dir=None,
        store=MarkStore.open(tmp_path / "store"),  # the same secret externals
    ).to_json()
    assert uninterrupted["queries"]["billed"] == 60
    assert resumed["verdict"] == uninterrupted["verdict"] == "detected"
    assert resumed["p_value"] == pytest.approx(uninterrupted["p_value"]), (resumed, uninterrupted)
