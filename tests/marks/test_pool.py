"""Photo pools: checked before the draw, drawn at random, kept whole in the store."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import pytest

from marks import pool as pool_module
from marks.errors import DamagedMarkError, MarkingError, PoolError
from marks.kinds import make_mark
from marks.pool import MIN_POOL, build_pool, draw
from marks.store import MarkStore


def folder_of(kit, folder: Path, n: int, *, start: int = 0) -> Path:
    for index in range(start, start + n):
        kit.save(folder / f"p{index:03d}.png", kit.photo(64, 72, seed=500 + index))
    return folder


def test_pool_leaves_out_what_cannot_be_an_external(tmp_path: Path, kit) -> None:
    folder = folder_of(kit, tmp_path / "pool", MIN_POOL + 2)
    kit.save(folder / "a-copy.png", kit.photo(64, 72, seed=500))  # sorts before p000
    kit.save(folder / "small.png", kit.photo(40, 200, seed=9))
    (folder / "bad.jpg").write_bytes(b"\xff\xd8 broken")
    (folder / "readme.txt").write_text("not a photo")
    held = make_mark("held", "blend", seed=0, image=folder / "p005.png")
    built = build_pool(folder, "blend", avoid=[held])
    reasons = {str(item.path): item.reason for item in built.skipped}
    assert reasons.keys() == {"p000.png", "small.png", "bad.jpg", "readme.txt"}
    assert "near-copy of a-copy.png" in reasons["p000.png"]
    assert "too small" in reasons["small.png"] and "unreadable" in reasons["bad.jpg"]
    assert built.held_copies == 1  # p005 is counted, never named
    assert all("p005" not in str(item.path) for item in built.skipped)
    assert len(built.photos) == MIN_POOL + 1  # 22 + a-copy - p000 - p005
    assert f"1/{MIN_POOL + 1}" in (built.warning() or "")


def test_pool_size_limits_and_kinds(tmp_path: Path, kit, monkeypatch) -> None:
    folder = folder_of(kit, tmp_path / "pool", MIN_POOL - 1)
    with pytest.raises(PoolError, match=f"{MIN_POOL - 1} usable distinct photos"):
        build_pool(folder, "blend")
    monkeypatch.setattr(pool_module, "MAX_POOL", 10)
    with pytest.raises(PoolError, match="takes at most 10"):
        build_pool(folder, "blend")
    with pytest.raises(MarkingError, match="a pool is for photo marks"):
        build_pool(folder, "square")


def test_draw_is_random_and_keeps_every_other_photo(tmp_path: Path, kit) -> None:
    built = build_pool(folder_of(kit, tmp_path / "pool", MIN_POOL), "overlay")
    every = {photo.fingerprint for photo in built.photos}
    chosen = set()
    for _ in range(30):
        drawn = draw(built, "pm")
        rest = {photo.fingerprint for photo in drawn.externals}
        assert drawn.mark.fingerprint not in rest and rest | {drawn.mark.fingerprint} == every
        chosen.add(drawn.mark.fingerprint)
    assert len(chosen) > 5  # not a fixed photo (30 draws of 20: ~15 distinct)


def test_store_keeps_the_pool_privately_and_drops_it_on_replace(tmp_path: Path, kit) -> None:
    drawn = draw(build_pool(folder_of(kit, tmp_path / "pool", MIN_POOL), "blend"), "pm")
    store = MarkStore.open(tmp_path / "s")
    record = store.add(drawn.mark, pool=drawn)
    assert record["pool"] == {"size": MIN_POOL} and "image_name" not in record["params"]
    pool_file = store.externals_dir / "pm.pool"
    assert pool_file.stat().st_mode & 0o777 == 0o600
    externals = store.pool_externals("pm")
    assert externals is not None and len(externals) == MIN_POOL - 1
    with zipfile.ZipFile(pool_file) as archive:  # names nothing but the mark
        assert "p0" not in json.dumps(json.loads(archive.read("record.json")))
    store.add(make_mark("pm", "procedural", seed=2**99), force=True)
    assert not pool_file.exists() and store.pool_externals("pm") is None


def test_a_pool_of_another_mark_is_refused(tmp_path: Path, kit) -> None:
    built = build_pool(folder_of(kit, tmp_path / "pool", MIN_POOL), "blend")
    store = MarkStore.open(tmp_path / "s")
    first = draw(built, "pm")
    store.add(first.mark, pool=first)
    saved = (store.externals_dir / "pm.pool").read_bytes()
    second = draw(built, "pm")
    while second.mark.fingerprint == first.mark.fingerprint:
        second = draw(built, "pm")
    store.add(second.mark, pool=second, force=True)
    (store.externals_dir / "pm.pool").write_bytes(saved)  # the replaced mark's pool
    with pytest.raises(DamagedMarkError, match="belongs to another mark"):
        store.pool_externals("pm")
