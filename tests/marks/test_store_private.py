"""The private store: permissions, names, distinctness, commitments, posted α."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from marks.commitment import commitment_value, verify_commitment
from marks.errors import (
    MarkExistsError,
    MarkTooCloseError,
    StoreError,
    StorePermissionError,
    UnknownMarkError,
)
from marks.kinds import make_mark
from marks.store import MarkStore, default_root


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_modes_are_private(tmp_path: Path) -> None:
    os.umask(0o022)
    store = MarkStore.open(tmp_path / "s")
    store.add(make_mark("t", "procedural", seed=1))
    for folder in (store.root, store.marks_dir, store.manifests_dir):
        assert mode(folder) == 0o700
    files = list(store.marks_dir.iterdir())  # one file per mark: record, pixels and mask
    assert [f.name for f in files] == ["t.mark"] and all(mode(f) == 0o600 for f in files)


def test_round_trip_keeps_fingerprint(tmp_path: Path) -> None:
    store = MarkStore.open(tmp_path / "s")
    mark = make_mark("t", "procedural", seed=1)
    store.add(mark)
    again = store.get("t")
    assert again.fingerprint == mark.fingerprint
    assert again.kind == mark.kind and again.seed == 1
    assert store.names() == ["t"]


def test_open_store_refuses_group_readable_dir(tmp_path: Path) -> None:
    root = tmp_path / "s"
    root.mkdir(mode=0o755)
    root.chmod(0o755)
    with pytest.raises(StorePermissionError) as caught:
        MarkStore.open(root)
    message = str(caught.value)
    assert str(root) in message and f"chmod 700 {root}" in message


def test_store_refuses_readable_mark_file(tmp_path: Path) -> None:
    store = MarkStore.open(tmp_path / "s")
    store.add(make_mark("t", "procedural", seed=1))
    leaked = store.marks_dir / "t.mark"
    leaked.chmod(0o644)
    with pytest.raises(StorePermissionError, match=f"chmod 600 {leaked}"):
        store.get("t")


def test_unknown_mark_message(store: MarkStore) -> None:
    with pytest.raises(UnknownMarkError) as caught:
        store.get("nope")
    assert "unknown mark 'nope'" in str(caught.value) and "t" in str(caught.value)
    assert isinstance(caught.value, KeyError)


@pytest.mark.parametrize("name", ["", "../evil", "a/b", ".hidden", "x" * 65, "sp ace"])
def test_bad_names_refused(store: MarkStore, name: str) -> None:
    with pytest.raises(StoreError, match="invalid mark name"):
        store.add(make_mark(name, "procedural", seed=2))


def test_close_marks_refused_unless_forced(store: MarkStore) -> None:
    with pytest.raises(MarkTooCloseError, match="too close to held mark 't'") as caught:
        store.add(make_mark("twin", "procedural", seed=7))  # same seed as fixture's "t"
    assert caught.value.distance < 0.4
    store.add(make_mark("twin", "procedural", seed=7), force=True)
    assert "twin" in store.names()
    store.add(make_mark("far", "procedural", seed=8))


def test_duplicate_name_refused(store: MarkStore) -> None:
    with pytest.raises(MarkExistsError, match="already held"):
        store.add(make_mark("t", "procedural", seed=100))


def test_commitment_verifies(store: MarkStore) -> None:
    record = store.info("t")
    value, salt = record["commitment"]["value"], record["commitment"]["salt"]
    assert verify_commitment(value, salt, store.get("t").fingerprint)
    assert not verify_commitment(value, salt, make_mark("x", "procedural", seed=1).fingerprint)
    assert commitment_value(salt, record["fingerprint"]) == value


def test_posted_alpha_from_newest_manifest(store: MarkStore) -> None:
    assert store.posted_alpha("t") is None
    held = {"name": "t", "fingerprint": store.info("t")["fingerprint"]}
    store.save_manifest(
        {"type": "marking", "created": "2026-01-01", "alpha": 0.3, "mark": held}, label="a"
    )
    store.save_manifest(
        {"type": "marking", "created": "2026-02-01", "alpha": 0.5, "mark": held}, label="b"
    )
    assert store.posted_alpha("t") == 0.5
    store.add(make_mark("t", "procedural", seed=99), force=True)  # replaced: not posted
    assert store.posted_alpha("t") is None


def test_default_root_from_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ISOTOPE_HOME", str(tmp_path / "home"))
    assert default_root() == tmp_path / "home"
    assert MarkStore.open().root == (tmp_path / "home").absolute()
