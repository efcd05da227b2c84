"""Rebuilt copies are byte for byte what ``mark_folder`` and ``prepare rekognition`` wrote."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from marks.kinds import make_mark
from marks.marking import mark_folder
from marks.prepare_rekognition import prepare_rekognition
from marks.reproduce import copy_format, marked_copy, plan_copy


def _sources(root: Path, kit) -> Path:
    src = root / "src"
    kit.save(src / "a.jpg", kit.photo(48, 64, seed=1), quality=90)
    kit.save(src / "b.png", kit.photo(48, 64, seed=2))
    kit.save(src / "c.pgm", kit.photo(48, 64, seed=3)[..., 0])  # grey, written as PNG
    kit.save(src / "d.webp", kit.photo(48, 64, seed=4), quality=80)
    return src


@pytest.mark.parametrize("keep_metadata", [False, True])
def test_marked_copy_is_the_posted_file(tmp_path, store, kit, keep_metadata) -> None:
    src = _sources(tmp_path, kit)
    mark = store.get("t")
    result = mark_folder(
        src,
        tmp_path / "out",
        mark,
        alpha=0.3,
        fraction=1.0,
        store=store,
        keep_metadata=keep_metadata,
        seed=0,
    )
    manifest = json.loads(result.manifest.read_text())
    assert {f["marked"] for f in manifest["files"]} == {True}
    for entry in manifest["files"]:
        rebuilt = marked_copy(src / entry["source"], mark, 0.3, keep_metadata=keep_metadata)
        assert hashlib.sha256(rebuilt).hexdigest() == entry["output_sha256"], entry["source"]
    # Another mark gives other bytes, in the same format.
    other = marked_copy(src / "a.jpg", make_mark("x", "procedural", seed=99), 0.3)
    assert other[:2] == b"\xff\xd8" and other != marked_copy(src / "a.jpg", mark, 0.3)


def test_copy_format_follows_the_marking_rules(tmp_path) -> None:
    assert copy_format(Path("a.pgm"), "PPM") == "PNG"
    assert copy_format(Path("a.jpg"), "JPEG") == "JPEG"
    assert copy_format(Path("a.jpg"), "PNG") == "PNG"  # kept name, its real format
    assert copy_format(Path("a.jpeg"), "MPO") == "JPEG"


def test_plan_copy_is_the_plan_file(tmp_path, store, kit) -> None:
    folder = tmp_path / "person"
    for i in range(11):
        kit.save(folder / f"{i}.png", kit.photo(60, 60, seed=i))
    set2 = [make_mark(f"o{i}", "procedural", seed=50 + i) for i in range(5)]
    mark = store.get("t")
    prepare_rekognition(
        {"alice": folder}, tmp_path / "plan", mark=mark, set2_marks=set2, store=store, alpha=0.3
    )
    manifest = next(m for m in store.manifests() if m["type"] == "rekognition-plan")
    entries = [e for role in manifest["identities"]["alice"].values() for e in role]
    marks = {m.name: m for m in (mark, *set2)}
    for entry in entries:
        data = plan_copy(Path(entry["source"]), marks[entry["mark"]], 0.3)
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
        assert data == (tmp_path / "plan" / entry["file"]).read_bytes()
    assert np.asarray(Image.open(tmp_path / "plan" / entries[0]["file"])).shape == (60, 60, 3)
