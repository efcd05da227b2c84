"""Uploading image folders to Cloud Storage (the emulator) and writing import files."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from google.cloud import storage
from PIL import Image

from fixtures.fake_vertex.pipeline import parse_import_file
from providers.vertex.upload import plan_upload, upload_folder

from .conftest import BUCKET


def make_folder(root: Path, labels=("apple", "boat"), per_label: int = 3, side: int = 8) -> Path:
    rng = np.random.default_rng(0)
    for label in labels:
        (root / label).mkdir(parents=True)
        for index in range(per_label):
            pixels = rng.integers(0, 256, (side, side, 3), dtype=np.uint8)
            Image.fromarray(pixels).save(root / label / f"{index}.png")
    return root


def objects(prefix: str) -> dict[str, str]:
    bucket = storage.Client().bucket(BUCKET)
    return {blob.name: blob.md5_hash for blob in bucket.list_blobs(prefix=prefix)}


def test_upload_then_resume_skips_what_is_there(cloud, tmp_path):
    folder = make_folder(tmp_path / "marked")
    first = upload_folder(folder, f"gs://{BUCKET}/up1/", labels_from_folders=True, workers=4)
    assert sorted(first.uploaded) == [
        f"up1/{lab}/{i}.png" for lab in ("apple", "boat") for i in range(3)
    ]
    assert first.skipped == [] and first.labels == {"apple": 3, "boat": 3}
    assert first.import_uri == f"gs://{BUCKET}/up1/import.csv"
    stored = objects("up1/")
    assert set(stored) == {*first.uploaded, "up1/import.csv"}

    text = storage.Client().bucket(BUCKET).blob("up1/import.csv").download_as_text()
    items = parse_import_file(text, source="import.csv")
    assert {(i.uri, i.label) for i in items} == {
        (f"gs://{BUCKET}/{name}", name.split("/")[1]) for name in first.uploaded
    }

    # Change one image: only that one goes up again.
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(folder / "boat" / "1.png")
    again = upload_folder(folder, f"gs://{BUCKET}/up1", labels_from_folders=True)
    assert again.uploaded == ["up1/boat/1.png"]
    assert len(again.skipped) == 5
    assert objects("up1/")["up1/boat/1.png"] != stored["up1/boat/1.png"]


def test_one_label_jsonl_and_secrets_stay_home(cloud, tmp_path):
    folder = tmp_path / "photos"
    make_folder(folder, labels=("a", "b"), per_label=1)
    (folder / "mark.npz").write_bytes(b"secret")
    (folder / "manifest.json").write_text("{}")
    (folder / ".store").mkdir()
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(folder / ".store" / "mark.png")
    result = upload_folder(folder, f"gs://{BUCKET}/up2", label="apple", import_format="jsonl")
    assert sorted(result.uploaded) == ["up2/apple/a/0.png", "up2/apple/b/0.png"]
    assert set(objects("up2/")) == {*result.uploaded, "up2/import.jsonl"}
    lines = storage.Client().bucket(BUCKET).blob("up2/import.jsonl").download_as_text()
    rows = [json.loads(line) for line in lines.splitlines()]
    assert rows[0] == {
        "imageGcsUri": f"gs://{BUCKET}/up2/apple/a/0.png",
        "classificationAnnotation": {"displayName": "apple"},
    }


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"label": "apple", "labels_from_folders": True}, "exactly one of"),
        ({}, "exactly one of"),
        ({"label": "9lives"}, "not valid for Vertex AI"),
        ({"label": "has space"}, "not valid for Vertex AI"),
    ],
)
def test_bad_labels_are_refused(tmp_path, kwargs, message):
    folder = make_folder(tmp_path / "f")
    with pytest.raises(ValueError, match=message):
        plan_upload(folder, "p", **kwargs)


def test_bad_folders_are_refused(tmp_path):
    with pytest.raises(ValueError, match="not a folder"):
        plan_upload(tmp_path / "missing", "p", label="a")
    make_folder(tmp_path / "one", labels=("only",))
    with pytest.raises(ValueError, match="at least 2"):
        plan_upload(tmp_path / "one", "p", labels_from_folders=True)
    make_folder(tmp_path / "bad", labels=("ok", "not-ok"))
    with pytest.raises(ValueError, match="not-ok"):
        plan_upload(tmp_path / "bad", "p", labels_from_folders=True)
    make_folder(tmp_path / "webp", labels=("a",))
    Image.fromarray(np.zeros((4, 4, 3), np.uint8)).save(tmp_path / "webp" / "a" / "x.webp")
    with pytest.raises(ValueError, match=r"x\.webp: Vertex AI does not train on \.webp"):
        plan_upload(tmp_path / "webp", "p", label="a")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no images"):
        plan_upload(tmp_path / "empty", "p", label="a")


def test_bad_bucket_uri():
    with pytest.raises(ValueError, match="gs://bucket/prefix"):
        upload_folder(Path("."), "s3://bucket/x", label="a")
