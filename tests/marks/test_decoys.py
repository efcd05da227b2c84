"""Decoy marks: fresh members of the mark's family, kept secret and tied to the mark."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest

from marks.decoys import DecoyError, decoys_of, draw_decoys
from marks.distance import MIN_DISTANCE, linf_distance
from marks.kinds import make_mark
from marks.store import MarkStore


@pytest.fixture
def store(tmp_path: Path) -> MarkStore:
    opened = MarkStore.open(tmp_path / "store")
    opened.add(make_mark("mine", "dead_leaves", seed=2**100 + 5))
    return opened


def test_decoys_are_fresh_family_members_recorded_privately(store: MarkStore) -> None:
    mark = store.get("mine")
    first, decoys = draw_decoys(store, mark, 2)
    second, more = draw_decoys(store, mark, 1)
    assert first != second and all(d.kind == mark.kind for d in decoys + more)
    for decoy in decoys + more:
        assert decoy.seed is not None and decoy.seed >= 2**64  # secret-sized seeds
        assert linf_distance(decoy, mark) >= MIN_DISTANCE
    # Rebuilt from the store exactly, per set and all together.
    assert [d.fingerprint for d in decoys_of(store, mark, first)] == [d.fingerprint for d in decoys]
    assert len(decoys_of(store, mark)) == 3
    path = store.externals_dir / "mine.decoys.json"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    with pytest.raises(DecoyError, match="no decoys of mark 'mine' with set id nope"):
        decoys_of(store, mark, "nope")


def test_a_replaced_mark_has_no_decoys_and_a_damaged_record_is_named(store: MarkStore) -> None:
    set_id, _ = draw_decoys(store, store.get("mine"), 1)
    store.add(make_mark("mine", "dead_leaves", seed=2**100 + 6), force=True)
    assert decoys_of(store, store.get("mine")) == []
    with pytest.raises(DecoyError, match="set id"):
        decoys_of(store, store.get("mine"), set_id)
    (store.externals_dir / "mine.decoys.json").write_text('{"sets": {"a": ["zz"]}}')
    with pytest.raises(DecoyError, match=r"mine\.decoys\.json is damaged"):
        decoys_of(store, store.get("mine"))


def test_photo_marks_get_no_decoys(store: MarkStore, tmp_path: Path, kit) -> None:
    photo = kit.save(tmp_path / "p.png", kit.photo())
    store.add(make_mark("photo", "blend", seed=0, image=photo))
    with pytest.raises(DecoyError, match="--decoys 0 --clean"):
        draw_decoys(store, store.get("photo"), 1)
