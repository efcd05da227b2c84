"""External-mark keys: secret, private, one per (mark, family), renewed with the mark."""

from __future__ import annotations

from pathlib import Path

import pytest

from marks.errors import StoreError
from marks.external_seeds import KEY_BYTES, external_seed, family_key
from marks.kinds import make_mark
from marks.secret_seed import SEED_BITS, is_weak, new_seed
from marks.store import MarkStore


def test_keys_persist_per_family_and_renew_with_the_mark(tmp_path: Path) -> None:
    store = MarkStore.open(tmp_path / "s")
    mark = make_mark("mine", "procedural", seed=new_seed())
    store.add(mark)
    key = family_key(store, mark, "procedural")
    assert len(key) == KEY_BYTES and family_key(store, mark, "procedural") == key
    assert family_key(store, mark, "pool") != key
    path = store.externals_dir / "mine.keys.json"
    assert path.stat().st_mode & 0o777 == 0o600
    assert store.externals_dir.stat().st_mode & 0o777 == 0o700
    replaced = make_mark("mine", "procedural", seed=new_seed())
    store.add(replaced, force=True)
    assert family_key(store, replaced, "procedural") != key


def test_damaged_key_file_is_named(tmp_path: Path) -> None:
    store = MarkStore.open(tmp_path / "s")
    mark = make_mark("mine", "procedural", seed=new_seed())
    store.add(mark)
    family_key(store, mark, "procedural")
    path = store.externals_dir / "mine.keys.json"
    path.write_text('{"keys": {"procedural": "zz"}}')
    with pytest.raises(StoreError, match=str(path)):
        family_key(store, mark, "procedural")


def test_seeds_are_128_bit_and_depend_on_the_key_only() -> None:
    seeds = {external_seed(bytes(KEY_BYTES), index) for index in range(50)}
    assert len(seeds) == 50 and max(seeds) < 2**128 and min(seeds) >= 0
    assert external_seed(b"\x01" * KEY_BYTES, 0) != external_seed(bytes(KEY_BYTES), 0)
    assert new_seed().bit_length() <= SEED_BITS


def test_weak_seeds() -> None:
    assert is_weak("procedural", 2**31 - 1) and is_weak("pixels", 0)
    assert not is_weak("procedural", 2**127) and not is_weak("blend", 3)
    assert not is_weak("procedural", None)
