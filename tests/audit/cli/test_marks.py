"""The CLI: one JSON object on stdout, exit codes, messages instead of tracebacks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from marks.commitment import verify_commitment
from marks.store import MarkStore


def run(runner, cli, *args: str):
    return runner.invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture
def store_args(tmp_path: Path) -> list[str]:
    return ["--store", str(tmp_path / "store")]


def test_marks_new_list_show(runner, cli, store_args) -> None:
    result = run(runner, cli, "marks", "new", "alpha1", "--seed", "3", "--json", *store_args)
    assert result.exit_code == 0, result.stderr
    created = json.loads(result.stdout)
    assert created["name"] == "alpha1" and created["kind"] == "dead_leaves"  # the default
    assert len(created["commitment"]["value"]) == 64
    assert '"salt"' not in result.stdout
    listed = json.loads(run(runner, cli, "marks", "list", "--json", *store_args).stdout)
    assert [m["name"] for m in listed["marks"]] == ["alpha1"]
    shown = run(runner, cli, "marks", "show", "alpha1", "--json", *store_args)
    assert json.loads(shown.stdout)["commitment"] == created["commitment"]
    assert "store" not in shown.stdout  # never the path of the mark's pixels
    revealed = run(runner, cli, "marks", "show", "alpha1", "--reveal-salt", "--json", *store_args)
    commitment = json.loads(revealed.stdout)["commitment"]
    fingerprint = MarkStore.open(Path(store_args[1])).info("alpha1")["fingerprint"]
    assert verify_commitment(commitment["value"], commitment["salt"], fingerprint)


def test_marks_new_errors(runner, cli, store_args, tmp_path: Path) -> None:
    run(runner, cli, "marks", "new", "one", "--seed", "1", *store_args)
    close = run(runner, cli, "marks", "new", "two", "--seed", "1", *store_args)
    assert close.exit_code == 2 and "too close" in close.stderr
    assert "Traceback" not in close.stderr + close.stdout
    forced = run(runner, cli, "marks", "new", "two", "--seed", "1", "--force", *store_args)
    assert forced.exit_code == 0
    no_image = run(runner, cli, "marks", "new", "b", "--kind", "blend", *store_args)
    assert no_image.exit_code == 2 and "needs an image" in no_image.stderr
    missing = run(
        runner,
        cli,
        "marks",
        "new",
        "b",
        "--kind",
        "blend",
        "--image",
        str(tmp_path / "no.jpg"),
        *store_args,
    )
    assert missing.exit_code == 2 and "no.jpg" in missing.stderr
    unknown = run(runner, cli, "marks", "show", "ghost", *store_args)
    assert unknown.exit_code == 2 and "unknown mark 'ghost'" in unknown.stderr


def test_store_with_wrong_permissions(runner, cli, tmp_path: Path) -> None:
    root = tmp_path / "open"
    root.mkdir()
    root.chmod(0o755)
    result = run(runner, cli, "marks", "list", "--store", str(root))
    assert result.exit_code == 2
    assert f"chmod 700 {root}" in result.stderr and "Traceback" not in result.stderr


def test_mark_json_and_exit_codes(runner, cli, store_args, photos: Path, tmp_path: Path) -> None:
    run(runner, cli, "marks", "new", "t", "--seed", "5", *store_args)
    ok = run(
        runner,
        cli,
        "mark",
        str(photos),
        "--mark",
        "t",
        "--out",
        str(tmp_path / "o1"),
        "--fraction",
        "0.5",
        "--seed",
        "2",
        "--reencode-all",
        "--json",
        *store_args,
    )
    assert ok.exit_code == 0, ok.stderr
    summary = json.loads(ok.stdout)  # exactly one JSON object
    assert summary["marked"] == 11 and summary["copied"] == 10 and summary["failed"] == []
    assert Path(summary["manifest"]).is_file()
    (photos / "broken.jpg").write_bytes(b"\xff\xd8\xff garbage")
    partial = run(
        runner,
        cli,
        "mark",
        str(photos),
        "--mark",
        "t",
        "--out",
        str(tmp_path / "o2"),
        "--json",
        *store_args,
    )
    assert partial.exit_code == 2
    summary = json.loads(partial.stdout)
    assert [f["path"] for f in summary["failed"]] == ["broken.jpg"]
    assert "broken.jpg" in partial.stderr
    assert summary["marked"] + summary["copied"] == 21  # the others finished


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--alpha", "0"], "alpha must be in (0, 1]"),
        (["--alpha", "1.2"], "alpha must be in (0, 1]"),
        (["--fraction", "0"], "fraction must be in (0, 1]"),
        (["--fraction", "1.5"], "fraction must be in (0, 1]"),
        (["--mark", "ghost"], "unknown mark 'ghost'"),
    ],
)
def test_mark_bad_input(
    runner, cli, store_args, photos: Path, tmp_path: Path, extra, message
) -> None:
    run(runner, cli, "marks", "new", "t", "--seed", "5", *store_args)
    args = ["mark", str(photos), "--out", str(tmp_path / "o"), *store_args]
    if "--mark" not in extra:
        args += ["--mark", "t"]
    result = run(runner, cli, *args, *extra)
    assert result.exit_code == 2
    assert message in result.stderr and "Traceback" not in result.stderr
    assert result.stdout == ""


def test_mark_out_inside_source_and_empty(
    runner, cli, store_args, photos: Path, tmp_path: Path
) -> None:
    run(runner, cli, "marks", "new", "t", "--seed", "5", *store_args)
    inside = run(
        runner, cli, "mark", str(photos), "--mark", "t", "--out", str(photos / "x"), *store_args
    )
    assert inside.exit_code == 2 and "inside the source folder" in inside.stderr
    (tmp_path / "empty").mkdir()
    empty = run(
        runner,
        cli,
        "mark",
        str(tmp_path / "empty"),
        "--mark",
        "t",
        "--out",
        str(tmp_path / "o"),
        *store_args,
    )
    assert empty.exit_code == 2 and "no image files" in empty.stderr


def test_mark_warns_when_a_setting_is_known_weak(
    runner, cli, store_args, photos: Path, tmp_path: Path
) -> None:
    run(runner, cli, "marks", "new", "w", *store_args)
    base = ["mark", str(photos), "--mark", "w", *store_args]
    faint = run(runner, cli, *base, "--out", str(tmp_path / "o1"), "--alpha", "0.2")
    assert faint.exit_code == 0, faint.stderr  # a warning, not a refusal
    assert "warning: α 0.2 is below 0.4" in faint.stderr
    few = run(runner, cli, *base, "--out", str(tmp_path / "o2"), "--fraction", "0.05", "--json")
    assert few.exit_code == 0
    warnings = json.loads(few.stdout)["warnings"]
    assert len(warnings) == 1 and "0.05 of the images is below 0.1" in warnings[0]
    usual = run(runner, cli, *base, "--out", str(tmp_path / "o3"), "--json")
    assert json.loads(usual.stdout)["warnings"] == [] and "warning" not in usual.stderr
    # Face marks are faint on purpose (their audits test the posted copy itself).
    run(runner, cli, "marks", "new", "f", "--for", "faces", *store_args)
    face = run(runner, cli, "mark", str(photos), "--mark", "f", "--out", str(tmp_path / "o4"),
               *store_args)  # fmt: skip
    assert face.exit_code == 0 and "warning: α" not in face.stderr
