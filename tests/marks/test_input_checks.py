"""Bad options are refused up front, by name; skipped files show in the summary."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from marks.errors import MarkingError
from marks.kinds import make_mark
from marks.marking import mark_folder
from marks.prepare_rekognition import prepare_rekognition
from marks.prepare_vertex import check_split, prepare_vertex
from marks.store import MarkStore


@pytest.mark.parametrize(
    "split",
    [(math.nan, 0.5, 0.5), (0.8, math.nan, 0.2), (math.inf, -math.inf, 1.0), (0.5, 0.5)],
)
def test_split_must_be_three_finite_shares(split: tuple) -> None:
    with pytest.raises(MarkingError, match="--split needs three finite shares"):
        check_split(split)


def test_nan_split_is_refused_before_any_image_is_written(
    photos: Path, store: MarkStore, tmp_path: Path
) -> None:
    out = tmp_path / "upload"
    with pytest.raises(MarkingError, match=r"--split .* got nan,0.5,0.5"):
        prepare_vertex(
            {"cat": photos},
            out,
            gcs_prefix="gs://bucket/x",
            store=store,
            split=(math.nan, 0.5, 0.5),
        )
    assert not out.exists() and not store.manifests()


def test_negative_seed_names_the_option(photos: Path, store: MarkStore, tmp_path: Path) -> None:
    with pytest.raises(MarkingError, match=r"--seed must be a whole number from 0 .* got -5"):
        make_mark("x", "procedural", seed=-5)
    with pytest.raises(MarkingError, match="--seed"):
        mark_folder(photos, tmp_path / "o", store.get("t"), seed=-5, store=store)
    with pytest.raises(MarkingError, match="--seed"):
        prepare_vertex(
            {"cat": photos}, tmp_path / "v", gcs_prefix="gs://bucket/x", store=store, seed=-5
        )
    with pytest.raises(MarkingError, match="--seed"):
        prepare_rekognition(
            {"ann": photos},
            tmp_path / "r",
            mark=store.get("t"),
            set2_marks=[make_mark(f"s{i}", "procedural", seed=i) for i in range(5)],
            store=store,
            seed=-5,
        )
    with pytest.raises(MarkingError, match=r"--seed must be a whole number, got 1\.5"):
        make_mark("x", "procedural", seed=1.5)  # type: ignore[arg-type]
    assert not (tmp_path / "o").exists() and not (tmp_path / "v").exists()


def test_skipped_files_appear_in_the_summary(
    photos: Path, store: MarkStore, tmp_path: Path
) -> None:
    for name in ("IMG_1.HEIC", "IMG_2.heic", "clip.MOV", "pic.avif"):
        (photos / name).write_bytes(b"not read")
    result = mark_folder(photos, tmp_path / "out", store.get("t"), store=store)
    assert sorted(result.skipped) == ["IMG_1.HEIC", "IMG_2.heic", "clip.MOV", "pic.avif"]
    summary = result.summary()
    assert "skipped 4 file(s) of types not marked or copied (1 .avif, 2 .heic, 1 .mov)" in summary
    assert result.to_json()["skipped"] == result.skipped
    assert not any((tmp_path / "out" / name).exists() for name in result.skipped)
