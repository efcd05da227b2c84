"""Marking a folder: counts, seeded selection, untouched sources, manifest, bad input."""

from __future__ import annotations

import hashlib
import io
import json
import shutil
import stat
import warnings
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageCms

from marks import marking
from marks.blend import blend
from marks.errors import MarkingError, MarkingInterrupted
from marks.imageio import load_rgb
from marks.marking import mark_folder
from marks.store import MarkStore


def digests(folder: Path) -> dict[str, str]:
    return {
        str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file()
    }


def test_counts_sources_and_manifest(photos: Path, store: MarkStore, tmp_path: Path) -> None:
    before = digests(photos)
    out = tmp_path / "out"
    result = mark_folder(photos, out, store.get("t"), fraction=0.25, seed=1, store=store)
    assert (result.marked, result.copied, result.failed) == (5, 16, [])  # round(0.25*21)=5
    assert digests(photos) == before  # sources byte-identical
    manifest = json.loads(result.manifest.read_text())
    assert result.manifest.parent == store.manifests_dir
    assert stat.S_IMODE(result.manifest.stat().st_mode) == 0o600
    assert not any(p.suffix == ".json" for p in out.rglob("*"))  # nothing secret posted
    assert manifest["type"] == "marking" and manifest["schema_version"] == 1
    assert manifest["mark"]["fingerprint"] == store.get("t").fingerprint
    assert manifest["alpha"] == 0.4 and manifest["fraction"] == 0.25 and manifest["seed"] == 1
    assert manifest["commitment"]["value"] == store.info("t")["commitment"]["value"]
    assert "salt" not in manifest["commitment"]
    assert manifest["tool_version"] and manifest["created"]
    written = digests(out)
    assert len(manifest["files"]) == 21 and len(written) == 21
    for entry in manifest["files"]:
        assert written[entry["output"]] == entry["output_sha256"]
        assert before[entry["source"]] == entry["source_sha256"]
        assert (entry["source_sha256"] == entry["output_sha256"]) == (not entry["marked"])
    assert not list(out.rglob(".*.tmp"))


def test_marked_pixels_carry_the_mark(photos: Path, store: MarkStore, tmp_path: Path) -> None:
    out = tmp_path / "out"
    result = mark_folder(photos, out, store.get("t"), fraction=1.0, seed=0, store=store)
    assert result.marked == 21
    png_in = load_rgb(photos / "sub" / "q.png")
    png_out = load_rgb(out / "sub" / "q.png")  # PNG: lossless, so within one level
    assert np.abs(png_out.astype(int) - blend(png_in, store.get("t"), 0.4)).max() <= 1
    jpg_in, jpg_out = load_rgb(photos / "p00.jpg"), load_rgb(out / "p00.jpg")
    expected = blend(jpg_in, store.get("t"), 0.4).astype(int)
    error = np.abs(jpg_out.astype(int) - expected).mean()  # JPEG q95 4:4:4 loss only
    shift = np.abs(jpg_out.astype(int) - jpg_in.astype(int)).mean()  # what the mark moved
    assert error < 5 and shift > 8 * error
    with Image.open(out / "p00.jpg") as im:
        assert im.format == "JPEG" and im.layer[0][1:3] == im.layer[1][1:3] == (1, 1)


def test_selection_is_seeded(photos: Path, store: MarkStore, tmp_path: Path) -> None:
    def chosen(seed: int, name: str) -> set[str]:
        result = mark_folder(
            photos, tmp_path / name, store.get("t"), fraction=0.3, seed=seed, store=store
        )
        files = json.loads(result.manifest.read_text())["files"]
        return {f["source"] for f in files if f["marked"]}

    first, again, other = chosen(5, "a"), chosen(5, "b"), chosen(6, "c")
    assert first == again and len(first) == 6
    assert first != other


def test_bad_files_reported_others_finished(
    photos: Path, store: MarkStore, tmp_path: Path, kit
) -> None:
    (photos / "empty.jpg").write_bytes(b"")
    (photos / "text.jpg").write_text("not an image")
    good = kit.jpeg_bytes(kit.photo(64, 64, seed=50), quality=90)
    (photos / "cut.jpg").write_bytes(good[: len(good) // 2])
    (photos / "gone.jpg").symlink_to(photos / "missing.jpg")
    (photos / "notes.txt").write_text("skipped, not an image name")
    result = mark_folder(photos, tmp_path / "out", store.get("t"), fraction=1.0, store=store)
    failed = {f.path: f.error for f in result.failed}
    assert set(failed) == {"empty.jpg", "text.jpg", "cut.jpg", "gone.jpg"}
    assert "empty" in failed["empty.jpg"] and "truncated" in failed["cut.jpg"]
    assert result.marked == 21 and result.skipped == ["notes.txt"]
    assert not (tmp_path / "out" / "cut.jpg").exists()


def test_failed_selected_file_is_replaced(photos: Path, store: MarkStore, tmp_path: Path) -> None:
    # Make every image fail except a few: the selection must still reach round(p*N).
    for i in range(10):
        (photos / f"p{i:02d}.jpg").write_bytes(b"broken")
    result = mark_folder(
        photos, tmp_path / "out", store.get("t"), fraction=0.5, seed=3, store=store
    )
    assert len(result.failed) == 10
    assert result.marked == 6 and result.copied == 5  # round(0.5*11) = 6 (half up)


def test_duplicates_marked_together(photos: Path, store: MarkStore, tmp_path: Path) -> None:
    for i in range(5):
        shutil.copy(photos / "p00.jpg", photos / f"dup{i}.jpg")
    for seed in range(4):
        out = tmp_path / f"out{seed}"
        result = mark_folder(photos, out, store.get("t"), fraction=0.5, seed=seed, store=store)
        manifest = json.loads(result.manifest.read_text())
        group = [
            f
            for f in manifest["files"]
            if f["source"] in {"p00.jpg"} | {f"dup{i}.jpg" for i in range(5)}
        ]
        assert len({f["marked"] for f in group}) == 1  # all marked or all copied
        assert len({f["output_sha256"] for f in group}) == 1
        assert sorted(result.duplicates[0]) == sorted(
            ["p00.jpg"] + [f"dup{i}.jpg" for i in range(5)]
        )
        assert manifest["selection"]["distinct_valid"] == 21
        assert manifest["selection"]["marked_contents"] == 11  # round(0.5*21) half up


def test_modes_marked_correctly(tmp_path: Path, store: MarkStore, kit) -> None:
    src = tmp_path / "modes"
    src.mkdir()
    Image.new("CMYK", (32, 32), (0, 200, 0, 0)).save(src / "cmyk.jpg", quality=95)
    Image.fromarray(np.full((32, 32), 30000, np.uint16)).save(src / "deep.png")
    pal = Image.new("P", (32, 32), 1)
    pal.putpalette([0, 0, 0, 10, 200, 10] + [0] * 762)
    pal.putpixel((0, 0), 0)
    pal.save(src / "pal.png", transparency=0)
    kit.save(src / "grey.png", np.full((32, 32), 90, np.uint8))
    rgba = np.zeros((32, 32, 4), np.uint8)
    rgba[..., 3] = 128
    kit.save(src / "rgba.png", rgba)
    kit.save(src / "anim.gif", kit.photo(32, 32))
    phone = Image.fromarray(kit.photo(32, 32))  # a phone camera's multi-picture JPEG:
    phone.save(src / "phone.jpg", "MPO", save_all=True, append_images=[phone])
    rotated = Image.Exif()
    rotated[0x0112] = 6  # stored landscape, shown portrait
    Image.fromarray(kit.photo(20, 40)).save(src / "rot.jpg", exif=rotated.tobytes())
    result = mark_folder(src, tmp_path / "out", store.get("t"), fraction=1.0, store=store)
    assert result.marked == 8 and not result.failed
    out = tmp_path / "out"
    with Image.open(out / "rgba.png") as im:
        assert im.mode == "RGBA" and np.asarray(im)[..., 3].max() == 128  # alpha kept
    with Image.open(out / "pal.png") as im:
        assert np.asarray(im.convert("RGBA"))[0, 0, 3] == 0  # transparent pixel kept
    with Image.open(out / "anim.png") as im:
        assert im.format == "PNG"  # GIF cannot hold a colour mark: written as PNG
    assert not (out / "anim.gif").exists()
    with Image.open(out / "rot.jpg") as im:
        assert im.size == (20, 40) and 0x0112 not in im.getexif()  # upright, tag gone
    with Image.open(out / "phone.jpg") as im:
        assert im.format == "JPEG"
    with Image.open(out / "cmyk.jpg") as im:
        assert im.mode == "RGB" and im.format == "JPEG"


def test_metadata_stripped_unless_kept(tmp_path: Path, store: MarkStore) -> None:
    src = tmp_path / "meta"
    src.mkdir()
    exif = Image.Exif()
    exif[0x010F] = "MakerWithSerial123"
    exif[0x0112] = 3  # upside down
    Image.new("RGB", (16, 16), (10, 20, 30)).save(src / "a.jpg", exif=exif.tobytes())
    stripped = mark_folder(src, tmp_path / "s", store.get("t"), fraction=1.0, store=store)
    kept = mark_folder(
        src, tmp_path / "k", store.get("t"), fraction=1.0, store=store, keep_metadata=True
    )
    assert stripped.marked == kept.marked == 1
    assert b"MakerWithSerial123" not in (tmp_path / "s" / "a.jpg").read_bytes()
    with Image.open(tmp_path / "k" / "a.jpg") as im:
        assert im.getexif().get(0x010F) == "MakerWithSerial123"
        assert 0x0112 not in im.getexif()  # already upright


def test_colour_profile_kept_and_digest_matches_file(tmp_path: Path, store: MarkStore) -> None:
    # The ICC profile describes colours, not the person: a marked phone photo keeps
    # it (spliced into the libjpeg-turbo output), so its colours do not shift.
    src = tmp_path / "icc"
    src.mkdir()
    profile = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    Image.new("RGB", (40, 30), (200, 120, 40)).save(src / "a.jpg", icc_profile=profile)
    result = mark_folder(src, tmp_path / "out", store.get("t"), fraction=1.0, store=store)
    out = tmp_path / "out" / "a.jpg"
    with Image.open(out) as im:
        assert im.info["icc_profile"] == profile
    entry = json.loads(result.manifest.read_text())["files"][0]
    assert entry["output_sha256"] == hashlib.sha256(out.read_bytes()).hexdigest()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"alpha": 0.0}, r"alpha must be in \(0, 1\]"),
        ({"alpha": 1.5}, r"alpha must be in \(0, 1\]"),
        ({"fraction": 0.0}, r"fraction must be in \(0, 1\]"),
        ({"fraction": 2.0}, r"fraction must be in \(0, 1\]"),
    ],
)
def test_bad_parameters(photos: Path, store: MarkStore, tmp_path: Path, kwargs, message) -> None:
    with pytest.raises(MarkingError, match=message):
        mark_folder(photos, tmp_path / "out", store.get("t"), store=store, **kwargs)
    assert not (tmp_path / "out").exists()


def test_bad_folders(photos: Path, store: MarkStore, tmp_path: Path) -> None:
    mark = store.get("t")
    with pytest.raises(MarkingError, match="inside the source folder"):
        mark_folder(photos, photos / "out", mark, store=store)
    with pytest.raises(MarkingError, match="contains the source folder"):
        mark_folder(photos, tmp_path, mark, store=store)
    with pytest.raises(MarkingError, match="private store"):
        mark_folder(photos, store.root / "x", mark, store=store)
    (tmp_path / "empty").mkdir()
    with pytest.raises(MarkingError, match="no image files"):
        mark_folder(tmp_path / "empty", tmp_path / "o1", mark, store=store)
    with pytest.raises(MarkingError, match="does not exist"):
        mark_folder(tmp_path / "nope", tmp_path / "o2", mark, store=store)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "old.jpg").write_bytes(b"x")
    with pytest.raises(MarkingError, match="not an empty folder"):
        mark_folder(photos, tmp_path / "full", mark, store=store)


def test_decompression_bomb_is_a_file_failure(
    photos: Path, store: MarkStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kit
) -> None:
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 60 * 60)
    kit.save(photos / "big.png", kit.photo(100, 100))  # 10,000 px > 2 x 3,600: error
    kit.save(photos / "bigish.png", kit.photo(60, 61))  # just over the limit: a warning
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)
        result = mark_folder(photos, tmp_path / "out", store.get("t"), store=store)
    failed = {f.path: f.error for f in result.failed}
    assert set(failed) == {"big.png", "bigish.png"}
    assert all("decompression bomb" in e for e in failed.values())
    assert result.marked + result.copied == 21


def test_output_is_decodable_jpeg(photos: Path, store: MarkStore, tmp_path: Path) -> None:
    result = mark_folder(photos, tmp_path / "out", store.get("t"), fraction=1.0, store=store)
    for path in (tmp_path / "out").glob("*.jpg"):
        with Image.open(io.BytesIO(path.read_bytes())) as im:
            im.load()
    assert result.marked == 21


def test_interrupt_leaves_a_partial_manifest(
    photos: Path, store: MarkStore, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = marking._mark_file

    def stop_at_p05(job, item):
        if item.rel.name == "p05.jpg":
            raise KeyboardInterrupt
        return real(job, item)

    monkeypatch.setattr(marking, "_mark_file", stop_at_p05)
    out = tmp_path / "out"
    with pytest.raises(MarkingInterrupted, match="partial manifest") as caught:
        mark_folder(photos, out, store.get("t"), fraction=1.0, store=store, workers=1)
    manifest = json.loads(caught.value.manifest.read_text())
    assert manifest["complete"] is False
    recorded = {f["output"] for f in manifest["files"]}
    written = {str(p.relative_to(out)) for p in out.rglob("*") if p.is_file()}
    assert written == recorded and 0 < len(written) < 21


def test_bundled_samples_can_be_marked(store: MarkStore, tmp_path: Path) -> None:
    samples = Path(__file__).resolve().parents[2] / "fixtures" / "images" / "samples"
    result = mark_folder(samples, tmp_path / "out", store.get("t"), fraction=0.25, store=store)
    assert (result.marked, result.copied, result.failed) == (3, 9, [])


def test_reencode_all_hides_encoding_and_metadata(tmp_path: Path, store: MarkStore, kit) -> None:
    src = tmp_path / "cam"
    exif = Image.Exif()
    exif[0x010F] = "MakerWithSerial123"
    src.mkdir()
    for i in range(8):
        Image.fromarray(kit.photo(seed=i)).save(src / f"{i}.jpg", quality=80, exif=exif.tobytes())
    kit.save(src / "anim.gif", kit.photo(seed=9))
    plain = mark_folder(src, tmp_path / "plain", store.get("t"), fraction=0.25, seed=1, store=store)
    uniform = mark_folder(
        src, tmp_path / "uni", store.get("t"), fraction=0.25, seed=1, store=store, reencode_all=True
    )
    assert (plain.marked, plain.copied) == (uniform.marked, uniform.copied) == (2, 7)
    manifest = json.loads(uniform.manifest.read_text())
    assert manifest["reencode_all"] is True
    for entry in manifest["files"]:
        path = tmp_path / "uni" / entry["output"]
        assert b"MakerWithSerial123" not in path.read_bytes()  # stripped from every file
        assert not path.name.endswith(".gif")  # no format left that only copies keep
        if not entry["marked"]:
            source = load_rgb(src / entry["source"]).astype(int)
            assert np.abs(load_rgb(path).astype(int) - source).mean() < 2  # same picture
    plain_files = json.loads(plain.manifest.read_text())["files"]
    copied = next(f for f in plain_files if not f["marked"])
    assert copied["source_sha256"] == copied["output_sha256"]  # default: byte copies
