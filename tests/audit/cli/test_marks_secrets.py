"""``isotope marks new|list|show`` never print what rebuilds a mark; weak seeds are flagged."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from marks.kinds import make_mark
from marks.pool import MIN_POOL
from marks.purposes import FACES
from marks.store import MarkStore


def run(runner, cli, *args: str):
    return runner.invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return tmp_path / "store"


def outputs(runner, cli, root: Path, name: str) -> str:
    """Everything ``marks list`` and ``marks show`` print about ``name``, both ways."""
    texts = []
    for args in (["list"], ["list", "--json"], ["show", name], ["show", name, "--json"]):
        result = run(runner, cli, "marks", *args, "--store", str(root))
        assert result.exit_code == 0, result.stderr
        texts.append(result.stdout + result.stderr)
    return "\n".join(texts)


def assert_secret_free(text: str, record: dict) -> None:
    fingerprint = record["fingerprint"]
    assert fingerprint[:12] not in text  # not the fingerprint, nor any prefix of it
    assert str(record["seed"]) not in text
    assert record["commitment"]["salt"][:12] not in text
    assert '"seed"' not in text and '"fingerprint"' not in text and '"params"' not in text


def test_new_prints_only_the_commitment_as_publishable(runner, cli, root: Path) -> None:
    result = run(runner, cli, "marks", "new", "mine", "--store", str(root))
    assert result.exit_code == 0, result.stderr
    record = MarkStore.open(root).info("mine")
    assert result.stdout == record["commitment"]["value"] + "\n"  # alone on stdout
    assert "publish this" in result.stderr
    assert_secret_free(result.stdout + result.stderr, record)
    as_json = run(runner, cli, "marks", "new", "two", "--json", "--store", str(root))
    assert_secret_free(as_json.stdout, MarkStore.open(root).info("two"))
    assert_secret_free(outputs(runner, cli, root, "mine"), record)


def test_new_seeds_are_128_bit_secrets_kept_exactly(runner, cli, root: Path) -> None:
    for name in ("a", "b", "c"):
        assert run(runner, cli, "marks", "new", name, "--store", str(root)).exit_code == 0
    store = MarkStore.open(root)
    seeds = [store.info(name)["seed"] for name in ("a", "b", "c")]
    assert all(2**64 <= seed < 2**128 for seed in seeds) and len(set(seeds)) == 3
    again = make_mark("a", "dead_leaves", seed=seeds[0])  # the store kept the big int exactly
    assert again.fingerprint == store.info("a")["fingerprint"]


def test_weak_seed_marks_are_flagged_with_advice(runner, cli, root: Path) -> None:
    store = MarkStore.open(root)
    store.add(make_mark("old", "procedural", seed=1_234_567_891))  # an old 31-bit seed
    run(runner, cli, "marks", "new", "fresh", "--store", str(root))
    listed = run(runner, cli, "marks", "list", "--store", str(root))
    assert "old (weak!)" in listed.stdout and "fresh (weak" not in listed.stdout
    assert "'old'" in listed.stderr and "make a new mark" in listed.stderr
    rows = json.loads(run(runner, cli, "marks", "list", "--json", "--store", str(root)).stdout)
    weak = {row["name"]: row["weak_seed"] for row in rows["marks"]}
    assert weak == {"fresh": False, "old": True}
    shown = run(runner, cli, "marks", "show", "old", "--store", str(root))
    assert "warning:" in shown.stdout and "small enough to be guessed" in shown.stdout
    assert_secret_free(outputs(runner, cli, root, "old"), store.info("old"))


def test_blend_mark_show_never_names_its_photo(runner, cli, root: Path, photos: Path) -> None:
    image = photos / "p07.jpg"
    result = run(runner, cli, "marks", "new", "b", "--kind", "blend", "--image", str(image),
                 "--store", str(root))  # fmt: skip
    assert result.exit_code == 0, result.stderr
    assert "p07" not in result.stderr and "not exact" in result.stderr
    text = outputs(runner, cli, root, "b")
    assert "p07" not in text  # no file name
    shown = json.loads(
        run(runner, cli, "marks", "show", "b", "--json", "--store", str(root)).stdout
    )
    assert "size" not in shown  # nor the photo's size: it could say which photo
    assert "image_name" not in json.dumps(MarkStore.open(root).info("b"))
    assert "not exact" in text and "--pool" in text  # its externals are not its family


def test_for_faces_records_its_alpha_and_mark_uses_it(
    runner, cli, root: Path, photos: Path, tmp_path: Path
) -> None:
    made = run(runner, cli, "marks", "new", "face", "--for", "faces", "--json",
               "--store", str(root))  # fmt: skip
    shown = json.loads(made.stdout)
    assert shown["purpose"] == "faces" and shown["default_alpha"] == FACES.alpha
    assert shown["kind"] == "procedural"
    marked = run(runner, cli, "mark", str(photos), "--mark", "face", "--out",
                 str(tmp_path / "o1"), "--json", "--store", str(root))  # fmt: skip
    assert marked.exit_code == 0, marked.stderr
    manifest = json.loads(Path(json.loads(marked.stdout)["manifest"]).read_text())
    assert manifest["alpha"] == FACES.alpha
    args = ["--out", str(tmp_path / "o2"), "--alpha", "0.5", "--json", "--store", str(root)]
    chosen = run(runner, cli, "mark", str(photos), "--mark", "face", *args)
    assert json.loads(Path(json.loads(chosen.stdout)["manifest"]).read_text())["alpha"] == 0.5


def pool_folder(kit, folder: Path, n: int) -> Path:
    for index in range(n):
        kit.save(folder / f"p{index:03d}.jpg", kit.photo(64, 80, seed=100 + index), quality=90)
    return folder


def test_pool_mark_is_drawn_from_the_pool(runner, cli, root: Path, kit, tmp_path: Path) -> None:
    folder = pool_folder(kit, tmp_path / "pool", MIN_POOL + 2)
    kit.save(folder / "copy.png", kit.photo(64, 80, seed=100))  # a copy of p000
    kit.save(folder / "tiny.png", kit.photo(16, 16, seed=1))
    (folder / "broken.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    result = run(runner, cli, "marks", "new", "pm", "--pool", str(folder), "--json",
                 "--store", str(root))  # fmt: skip
    assert result.exit_code == 0, result.stderr
    shown = json.loads(result.stdout)
    assert shown["kind"] == "blend" and shown["externals"]["exact"] is True
    assert shown["externals"]["pool_size"] == MIN_POOL + 2
    assert any("p-value below" in warning for warning in shown["warnings"])  # < 100 photos
    reasons = {item["path"]: item["reason"] for item in shown["skipped"]}
    assert set(reasons) == {"p000.jpg", "tiny.png", "broken.jpg"}  # copy.png sorts first
    assert "near-copy" in reasons["p000.jpg"] and "too small" in reasons["tiny.png"]
    store = MarkStore.open(root)
    assert_secret_free(result.stdout, store.info("pm"))


def test_pool_too_small_is_refused(runner, cli, root: Path, kit, tmp_path: Path) -> None:
    folder = pool_folder(kit, tmp_path / "pool", MIN_POOL - 1)
    result = run(runner, cli, "marks", "new", "pm", "--pool", str(folder), "--store", str(root))
    assert result.exit_code == 2 and f"needs at least {MIN_POOL}" in result.stderr
    assert "pm" not in MarkStore.open(root).names()
    both = run(runner, cli, "marks", "new", "x", "--pool", str(folder), "--image",
               str(folder / "p000.jpg"), "--store", str(root))  # fmt: skip
    assert both.exit_code == 2 and "leave out --image" in both.stderr
    procedural = run(runner, cli, "marks", "new", "x", "--kind", "procedural", "--pool",
                     str(folder), "--store", str(root))  # fmt: skip
    assert procedural.exit_code == 2 and "a pool is for photo marks" in procedural.stderr
