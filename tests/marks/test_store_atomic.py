"""The store under races and damage: one winner per name, whole marks, clear messages."""

from __future__ import annotations

import io
import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from marks.commitment import verify_commitment
from marks.errors import DamagedMarkError, MarkExistsError, StorePermissionError
from marks.kinds import make_mark
from marks.store import MarkStore

ROOT = Path(__file__).resolve().parents[2]

RACER = """
import sys, time
from pathlib import Path
from marks.errors import MarkExistsError
from marks.kinds import make_mark
from marks.store import MarkStore
root, seed, go = Path(sys.argv[1]), int(sys.argv[2]), Path(sys.argv[3])
store = MarkStore.open(root)
mark = make_mark("racy", "procedural", seed=seed)
while not go.exists():
    time.sleep(0.001)
try:
    record = store.add(mark)
except MarkExistsError:
    print("EXISTS", flush=True)
else:
    print("CREATED", record["commitment"]["value"], record["fingerprint"], flush=True)
"""


def test_concurrent_adds_of_one_name_have_one_winner_and_a_whole_mark(tmp_path: Path) -> None:
    root = tmp_path / "store"
    MarkStore.open(root)
    go = tmp_path / "go"
    racers = [
        subprocess.Popen(
            [sys.executable, "-c", RACER, str(root), str(1000 + i), str(go)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            cwd=ROOT,
        )
        for i in range(4)
    ]
    time.sleep(1.5)  # let every racer import and build its mark
    go.touch()
    outputs = [racer.communicate(timeout=60) for racer in racers]
    lines = [stdout.strip() for stdout, _ in outputs]
    assert all(racer.returncode == 0 for racer in racers), [err for _, err in outputs]
    created = [line.split() for line in lines if line.startswith("CREATED")]
    assert len(created) == 1 and lines.count("EXISTS") == 3
    _, commitment, fingerprint = created[0]
    store = MarkStore.open(root)
    record = store.info("racy")
    mark = store.get("racy")  # pixels and record from the same run: the fingerprint holds
    assert record["commitment"]["value"] == commitment and mark.fingerprint == fingerprint
    assert verify_commitment(commitment, record["commitment"]["salt"], mark.fingerprint)
    assert sorted(p.name for p in store.marks_dir.iterdir()) == ["racy.mark"]


def _old_layout(store: MarkStore, name: str, seed: int) -> None:
    """Write a mark the way earlier versions did: NAME.json and NAME.npz side by side."""
    mark = make_mark(name, "procedural", seed=seed)
    record = MarkStore._new_record(mark)
    buf = io.BytesIO()
    np.savez(
        buf,
        pixels=np.round(mark.pixels * 255).astype(np.uint8),
        mask=np.round(mark.mask * 255).astype(np.uint8),
    )
    for suffix, data in ((".npz", buf.getvalue()), (".json", json.dumps(record).encode())):
        path = store.marks_dir / f"{name}{suffix}"
        path.write_bytes(data)
        path.chmod(0o600)


def test_old_stores_still_open_and_force_converts(tmp_path: Path) -> None:
    store = MarkStore.open(tmp_path / "s")
    _old_layout(store, "old", seed=5)
    store.add(make_mark("new", "procedural", seed=6))
    assert store.names() == ["new", "old"] and "old" in store
    assert store.get("old").fingerprint == make_mark("old", "procedural", seed=5).fingerprint
    with pytest.raises(MarkExistsError):
        store.add(make_mark("old", "procedural", seed=9))
    store.add(make_mark("old", "procedural", seed=9), force=True)
    assert sorted(p.name for p in store.marks_dir.iterdir()) == ["new.mark", "old.mark"]
    assert store.get("old").fingerprint == make_mark("old", "procedural", seed=9).fingerprint


def _damage(store: MarkStore, name: str, how: str) -> Path:
    if how == "truncated mark":
        store.add(make_mark(name, "procedural", seed=40))
        path = store.marks_dir / f"{name}.mark"
        path.write_bytes(path.read_bytes()[:200])
    elif how == "truncated npz":
        _old_layout(store, name, seed=41)
        path = store.marks_dir / f"{name}.npz"
        path.write_bytes(path.read_bytes()[:100])
    elif how == "no fingerprint":
        _old_layout(store, name, seed=42)
        path = store.marks_dir / f"{name}.json"
        record = json.loads(path.read_text())
        del record["fingerprint"]
        path.write_text(json.dumps(record))
    elif how == "bad json":
        _old_layout(store, name, seed=43)
        path = store.marks_dir / f"{name}.json"
        path.write_text('{"name": "broken", "kind": ')
    else:  # json and npz from two different runs
        _old_layout(store, name, seed=44)
        other = make_mark(name, "procedural", seed=45)
        buf = io.BytesIO()
        np.savez(
            buf,
            pixels=np.round(other.pixels * 255).astype(np.uint8),
            mask=np.round(other.mask * 255).astype(np.uint8),
        )
        path = store.marks_dir / f"{name}.npz"
        path.write_bytes(buf.getvalue())
    return path


@pytest.mark.parametrize(
    ("how", "problem"),
    [
        ("truncated mark", "is truncated or not a mark file"),
        ("truncated npz", "is truncated or not a mark file"),
        ("no fingerprint", "lacks 'fingerprint'"),
        ("bad json", "is not valid JSON (line 1, column 28)"),
        ("mixed runs", "do not match the recorded fingerprint"),
    ],
)
def test_a_damaged_mark_is_named_and_does_not_hide_the_others(
    tmp_path: Path, how: str, problem: str
) -> None:
    store = MarkStore.open(tmp_path / "s")
    store.add(make_mark("good", "procedural", seed=1))
    path = _damage(store, "broken", how)
    with pytest.raises(DamagedMarkError) as caught:
        store.get("broken")
    message = str(caught.value)
    assert "\n" not in message and str(path) in message and problem in message
    listing = {held.name: held for held in store.listing()}
    assert listing["good"].record is not None and listing["good"].problem is None
    assert listing["broken"].record is None and problem in (listing["broken"].problem or "")
    with pytest.raises(DamagedMarkError, match="broken"):  # the distance check needs it
        store.add(make_mark("third", "procedural", seed=3))


def test_a_shared_folder_is_never_given_chmod_advice(tmp_path: Path) -> None:
    with pytest.raises(StorePermissionError) as caught:
        MarkStore.open(Path("/tmp"))
    message = str(caught.value)
    assert "chmod" not in message and "choose a folder of your own" in message
    assert not Path("/tmp/marks").exists() or Path("/tmp/marks").stat().st_uid != os.getuid()

    sticky = tmp_path / "shared"
    sticky.mkdir()
    sticky.chmod(0o1777)
    with pytest.raises(StorePermissionError, match="choose a folder of your own") as caught:
        MarkStore.open(sticky)
    assert "chmod" not in str(caught.value)

    home_like = tmp_path / "home"
    (home_like / "Photos").mkdir(parents=True)
    home_like.chmod(0o755)
    with pytest.raises(StorePermissionError, match="choose a folder of your own") as caught:
        MarkStore.open(home_like)
    assert "chmod" not in str(caught.value)

    own = tmp_path / "own"
    MarkStore.open(own)
    own.chmod(0o750)  # a store folder of one's own: narrowing it is the fix
    with pytest.raises(StorePermissionError, match=f"chmod 700 {own}"):
        MarkStore.open(own)
    assert stat.S_IMODE(home_like.stat().st_mode) == 0o755  # nothing was changed
    assert not (home_like / "marks").exists()


def test_lock_file_is_private(tmp_path: Path) -> None:
    store = MarkStore.open(tmp_path / "s")
    store.add(make_mark("t", "procedural", seed=1))
    assert stat.S_IMODE((store.root / ".lock").stat().st_mode) == 0o600
