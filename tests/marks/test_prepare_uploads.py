"""Upload preparation: label folders, Vertex import files, Rekognition enrollment plans."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from marks import prepare_rekognition as rekognition_module
from marks import prepare_vertex as vertex_module
from marks.errors import MarkingError
from marks.kinds import make_mark
from marks.prepare_folder import prepare_folder
from marks.prepare_rekognition import prepare_rekognition
from marks.prepare_vertex import prepare_vertex
from marks.store import MarkStore

CSV_LINE = re.compile(
    r"^((training|validation|test),)?gs://[a-z0-9][a-z0-9._-]+[a-z0-9](/[A-Za-z0-9._/-]+)?"
    r",[A-Za-z][A-Za-z0-9_]*$"
)
EXTERNAL_ID = re.compile(r"^[a-zA-Z0-9_.\-:]{1,255}$")


@pytest.fixture
def labelled(tmp_path: Path, kit) -> dict[str, Path]:
    """Two labels: 6 JPEGs (one in a nested folder with an awkward name) and 4 PNGs."""
    cats, dogs = tmp_path / "cats", tmp_path / "dogs"
    for i in range(5):
        kit.save(cats / f"c{i}.jpg", kit.photo(seed=i))
    kit.save(cats / "deep" / "odd name, with comma.jpg", kit.photo(seed=9))
    for i in range(4):
        kit.save(dogs / f"d{i}.png", kit.photo(seed=20 + i))
    return {"cats": cats, "dogs": dogs}


def test_prepare_folder_layout(labelled, store: MarkStore, tmp_path: Path) -> None:
    (labelled["dogs"] / "bad.png").write_bytes(b"nope")
    result = prepare_folder(labelled, tmp_path / "out", store=store)
    assert result.written == 10 and [f.path for f in result.failed] == [
        str(labelled["dogs"] / "bad.png")
    ]
    cats = sorted(p.name for p in (tmp_path / "out" / "cats").iterdir())
    assert len(cats) == 6 and "deep__odd_name_with_comma.jpg" in cats
    assert (tmp_path / "out" / "cats" / "c0.jpg").read_bytes() == (
        labelled["cats"] / "c0.jpg"
    ).read_bytes()
    assert result.manifest is not None and result.manifest.parent == store.manifests_dir


def test_prepare_folder_refuses_store_and_bad_labels(labelled, store, tmp_path: Path) -> None:
    with pytest.raises(MarkingError, match="private store"):
        prepare_folder({"x": store.root}, tmp_path / "o", store=store)
    with pytest.raises(MarkingError, match="cannot be a folder name"):
        prepare_folder({"../up": labelled["cats"]}, tmp_path / "o", store=store)


def test_prepare_vertex_files_follow_the_rules(labelled, store, tmp_path: Path) -> None:
    out = tmp_path / "vx"
    result = prepare_vertex(
        labelled, out, gcs_prefix="gs://my-bucket/run1/", store=store, split=(0.5, 0.25, 0.25)
    )
    assert result.written == 10 and not result.failed
    lines = (out / "import.csv").read_text().splitlines()
    assert len(lines) == 10 and all(CSV_LINE.match(line) for line in lines)
    rows = list(csv.reader(lines))
    uses = [r[0] for r in rows if r[2] == "cats"]
    assert sorted(uses) == ["test"] + ["training"] * 4 + ["validation"]  # floor for val/test
    for _use, uri, label in rows:  # every URI points at an uploaded file
        assert uri.startswith("gs://my-bucket/run1/")
        local = out / "images" / uri.removeprefix("gs://my-bucket/run1/")
        assert local.is_file() and local.parent.name == label
    jsonl = [json.loads(line) for line in (out / "import.jsonl").read_text().splitlines()]
    assert len(jsonl) == 10
    first = jsonl[0]
    assert set(first) == {"imageGcsUri", "classificationAnnotation", "dataItemResourceLabels"}
    assert first["dataItemResourceLabels"]["aiplatform.googleapis.com/ml_use"] in {
        "training",
        "validation",
        "test",
    }


def test_prepare_vertex_without_split(labelled, store, tmp_path: Path) -> None:
    prepare_vertex(labelled, tmp_path / "vx", gcs_prefix="gs://bkt", store=store)
    line = (tmp_path / "vx" / "import.csv").read_text().splitlines()[0]
    assert line.startswith("gs://bkt/cats/") and CSV_LINE.match(line)
    entry = json.loads((tmp_path / "vx" / "import.jsonl").read_text().splitlines()[0])
    assert "dataItemResourceLabels" not in entry


@pytest.mark.parametrize(
    ("labels", "prefix", "split", "message"),
    [
        (["9lives"], "gs://bkt", None, "must start with a letter"),
        (["has-dash"], "gs://bkt", None, "letters, digits and underscores"),
        (["ok"], "s3://bkt", None, "must start with gs://"),
        (["ok"], "gs://UPPER", None, "not a valid bucket"),
        (["ok"], "gs://bkt/a b", None, "the path may hold only"),
        (["ok"], "gs://bkt", (0.5, 0.5, 0.5), "summing to 1"),
    ],
)
def test_prepare_vertex_bad_input(
    labelled, store, tmp_path: Path, labels, prefix, split, message
) -> None:
    sources = {label: labelled["cats"] for label in labels}
    with pytest.raises(MarkingError, match=message):
        prepare_vertex(sources, tmp_path / "vx", gcs_prefix=prefix, store=store, split=split)


def test_prepare_vertex_reencodes_big_and_unsupported(
    tmp_path: Path, store, kit, monkeypatch: pytest.MonkeyPatch
) -> None:
    src = tmp_path / "src"
    kit.save(src / "big.jpg", kit.photo(400, 400), quality=100)
    kit.save(src / "scan.tiff", kit.photo(32, 32))
    limit = 20_000
    monkeypatch.setattr(vertex_module, "MAX_TRAIN_BYTES", limit)
    assert (src / "big.jpg").stat().st_size > limit
    result = prepare_vertex({"pics": src}, tmp_path / "vx", gcs_prefix="gs://bkt", store=store)
    names = sorted(p.name for p in (tmp_path / "vx" / "images" / "pics").iterdir())
    assert names == ["big.jpg", "scan.png"] and not result.failed
    big = tmp_path / "vx" / "images" / "pics" / "big.jpg"
    assert big.stat().st_size <= limit
    with Image.open(big) as im:
        assert im.format == "JPEG" and im.width < 400
    with Image.open(tmp_path / "vx" / "images" / "pics" / "scan.png") as im:
        assert im.format == "PNG"


@pytest.fixture
def five_marks(store: MarkStore) -> list:
    for i in range(5):
        store.add(make_mark(f"x{i}", "procedural", seed=100 + i))
    return [store.get(f"x{i}") for i in range(5)]


def test_prepare_rekognition_plan(tmp_path: Path, store, five_marks, kit) -> None:
    alice, bob = tmp_path / "alice", tmp_path / "bob"
    for i in range(14):
        kit.save(alice / f"a{i}.jpg", kit.photo(64, 48, seed=i))
    for i in range(6):
        kit.save(bob / f"b{i}.jpg", kit.photo(64, 48, seed=50 + i))
    kit.save(alice / "tiny.jpg", kit.photo(30, 30))
    result = prepare_rekognition(
        {"alice": alice, "bob": bob},
        tmp_path / "rk",
        mark=store.get("t"),
        set2_marks=five_marks,
        store=store,
        seed=1,
    )
    errors = {f.path: f.error for f in result.failed}
    assert "needs at least 11" in errors[str(bob)]
    assert "smaller than 40x40" in errors[str(alice / "tiny.jpg")]
    enroll = json.loads((tmp_path / "rk" / "enroll.json").read_text())["images"]
    probe = json.loads((tmp_path / "rk" / "probe.json").read_text())["images"]
    assert len(enroll) == 10 and len(probe) == 4
    ids = [e["external_image_id"] for e in enroll]
    assert len(set(ids)) == 10 and all(EXTERNAL_ID.match(i) for i in ids)
    assert not any("set" in json.dumps(e) for e in enroll)  # membership stays secret
    for entry in enroll + probe:
        path = tmp_path / "rk" / entry["file"]
        assert path.stat().st_size <= 5 * 1024 * 1024
        with Image.open(path) as im:
            assert im.format in ("JPEG", "PNG") and min(im.size) >= 40
    plan = json.loads(result.manifest.read_text())["identities"]["alice"]
    assert [len(plan[s]) for s in ("set1", "set2", "set3")] == [5, 5, 4]
    assert {e["mark"] for e in plan["set1"] + plan["set3"]} == {"t"}
    assert sorted(e["mark"] for e in plan["set2"]) == [f"x{i}" for i in range(5)]
    sources = [e["source"] for s in ("set1", "set2", "set3") for e in plan[s]]
    assert len(set(sources)) == 14  # each photo used once


def test_prepare_rekognition_bad_input(
    tmp_path: Path, store, five_marks, kit, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "p"
    for i in range(11):
        kit.save(folder / f"{i}.png", kit.photo(64, 64, seed=i))
    common = {"out": tmp_path / "rk", "mark": store.get("t"), "store": store}
    with pytest.raises(MarkingError, match="exactly 5"):
        prepare_rekognition({"p": folder}, set2_marks=five_marks[:4], **common)
    with pytest.raises(MarkingError, match="must all be different"):
        prepare_rekognition({"p": folder}, set2_marks=[store.get("t"), *five_marks[:4]], **common)
    with pytest.raises(MarkingError, match="identity"):
        prepare_rekognition({"bad/name": folder}, set2_marks=five_marks, **common)
    monkeypatch.setattr(rekognition_module, "MAX_IMAGE_BYTES", 3000)
    result = prepare_rekognition({"p": folder}, set2_marks=five_marks, **common)
    for path in (tmp_path / "rk").rglob("*.jpg"):
        assert path.stat().st_size <= 3000
    assert result.written == 11
    assert np.asarray(Image.open(next((tmp_path / "rk").rglob("*.jpg")))).shape[0] < 64
