"""Renamed outputs never collide: every shared output name is refused before writing."""

from __future__ import annotations

from pathlib import Path

import pytest

from marks.marking import mark_folder
from marks.output_names import OutputCollisionError, check_output_names
from marks.store import MarkStore


def test_gif_png_and_gif_png_are_refused_before_anything_is_written(
    tmp_path: Path, store: MarkStore, kit
) -> None:
    src = tmp_path / "src"
    for name in ("a.gif", "a.png", "a.gif.png", "b.jpg"):
        kit.save(src / name, kit.photo(seed=len(name)))
    out = tmp_path / "out"
    with pytest.raises(OutputCollisionError) as caught:
        mark_folder(src, out, store.get("t"), fraction=1.0, store=store)
    message = str(caught.value)
    assert "a.gif and a.gif.png -> a.gif.png" in message and "nothing was written" in message
    assert not out.exists()
    assert not store.manifests()


def test_every_collision_is_named(tmp_path: Path) -> None:
    rels = [Path(p) for p in ("x.GIF", "x.gif", "d/y.gif", "d/y.gif.png", "d/y.png", "z.png")]
    with pytest.raises(OutputCollisionError) as caught:
        check_output_names(rels, reencode_all=False)
    assert set(caught.value.collisions) == {Path("x.png"), Path("d/y.gif.png")}
    assert caught.value.collisions[Path("x.png")] == [Path("x.GIF"), Path("x.gif")]


def test_a_renamed_output_may_not_shadow_a_folder() -> None:
    with pytest.raises(OutputCollisionError, match=r"a.gif and a.png/b.jpg -> a.png"):
        check_output_names([Path("a.gif"), Path("a.png/b.jpg")], reencode_all=True)


def test_names_without_collisions_pass(tmp_path: Path, store: MarkStore, kit) -> None:
    check_output_names([Path("a.gif"), Path("b.png"), Path("c.pgm")], reencode_all=False)
    src = tmp_path / "src"
    for name in ("a.gif", "a.png", "b.gif"):
        kit.save(src / name, kit.photo(seed=len(name)))
    result = mark_folder(src, tmp_path / "out", store.get("t"), fraction=1.0, store=store)
    assert result.marked == 3
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["a.gif.png", "a.png", "b.png"]
