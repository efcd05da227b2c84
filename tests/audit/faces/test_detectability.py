"""``isotope mark`` with a mark made for faces reports how many marked faces stay findable."""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image
from typer.testing import CliRunner

from audit.cli.app import app
from audit.demo.face_samples import lfw_faces
from audit.faces.detectability import check_faces
from marks.kinds import make_mark
from marks.store import MarkStore


def _mark(tmp_path: Path, usable_faces: list[int], purpose: str, alpha: str) -> dict:
    faces = lfw_faces()
    for i, index in enumerate(usable_faces[:4]):
        Image.fromarray(faces[index]).save(tmp_path / "src" / f"p{i}.png")
    Image.new("RGB", (100, 100), (128, 128, 128)).save(tmp_path / "src" / "wall.png")
    store = MarkStore.open(tmp_path / "store")
    store.add(make_mark("m", "procedural", seed=2), purpose=purpose, default_alpha=0.1)
    result = CliRunner().invoke(
        app,
        [
            "mark", str(tmp_path / "src"), "--mark", "m", "--out", str(tmp_path / "out"),
            "--fraction", "1", "--alpha", alpha, "--store", str(tmp_path / "store"), "--json",
        ],
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def test_marking_for_faces_counts_faces_still_found(tmp_path, usable_faces) -> None:
    (tmp_path / "src").mkdir()
    out = _mark(tmp_path, usable_faces, "faces", "0.1")
    # The four faces are found marked and unmarked (chosen so); the grey wall never.
    assert out["faces"] == {
        "checked": 5,
        "marked_with_face": 4,
        "originals_with_face": 4,
        "unreadable": 0,
    }


def test_a_strong_mark_hides_faces_and_general_marks_are_not_checked(
    tmp_path, usable_faces, engine
) -> None:
    (tmp_path / "src").mkdir()
    out = _mark(tmp_path, usable_faces, "general", "0.6")
    assert "faces" not in out
    out_dir = tmp_path / "out"  # PNG sources keep their names when marked
    pairs = [(path, tmp_path / "src" / path.name) for path in sorted(out_dir.glob("*.png"))]
    check = check_faces(pairs, engine=engine)
    assert check is not None and check.originals_with_face == 4
    assert check.marked_with_face < 4  # α 0.6 hides faces from the detector
