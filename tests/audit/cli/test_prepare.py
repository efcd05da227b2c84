"""``isotope prepare``: argument parsing, JSON output, exit codes."""

from __future__ import annotations

import json
from pathlib import Path


def test_prepare_folder_from_tree(runner, cli, tmp_path: Path, kit) -> None:
    tree = tmp_path / "tree"
    for label in ("apple", "pear"):
        for i in range(3):
            kit.save(tree / label / f"{i}.jpg", kit.photo(seed=i))
    result = runner.invoke(
        cli,
        [
            "prepare",
            "folder",
            str(tmp_path / "out"),
            "--from-tree",
            str(tree),
            "--json",
            "--store",
            str(tmp_path / "store"),
        ],
    )
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["written"] == 6 and summary["failed"] == []
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["apple", "pear"]


def test_prepare_bad_pairs_and_labels(runner, cli, tmp_path: Path, kit) -> None:
    kit.save(tmp_path / "imgs" / "a.jpg", kit.photo())
    store = ["--store", str(tmp_path / "store")]
    malformed = runner.invoke(
        cli, ["prepare", "folder", str(tmp_path / "o"), "--label", "x", *store]
    )
    assert malformed.exit_code == 2 and "NAME=DIR" in malformed.stderr
    none = runner.invoke(cli, ["prepare", "folder", str(tmp_path / "o"), *store])
    assert none.exit_code == 2 and "--label" in none.stderr
    bad_label = runner.invoke(
        cli,
        [
            "prepare",
            "vertex",
            str(tmp_path / "o"),
            "--gcs-prefix",
            "gs://bkt",
            "--label",
            f"9x={tmp_path / 'imgs'}",
            *store,
        ],
    )
    assert bad_label.exit_code == 2 and "must start with a letter" in bad_label.stderr
    bad_split = runner.invoke(
        cli,
        [
            "prepare",
            "vertex",
            str(tmp_path / "o"),
            "--gcs-prefix",
            "gs://bkt",
            "--split",
            "a,b",
            "--label",
            f"x={tmp_path / 'imgs'}",
            *store,
        ],
    )
    assert bad_split.exit_code == 2 and "three numbers" in bad_split.stderr
    assert "Traceback" not in malformed.stderr + none.stderr + bad_label.stderr


def test_prepare_vertex_json(runner, cli, tmp_path: Path, kit) -> None:
    for i in range(4):
        kit.save(tmp_path / "imgs" / f"{i}.png", kit.photo(seed=i))
    result = runner.invoke(
        cli,
        [
            "prepare",
            "vertex",
            str(tmp_path / "o"),
            "--gcs-prefix",
            "gs://bkt/p",
            "--label",
            f"fruit={tmp_path / 'imgs'}",
            "--json",
            "--store",
            str(tmp_path / "store"),
        ],
    )
    assert result.exit_code == 0, result.stderr
    summary = json.loads(result.stdout)
    assert summary["written"] == 4 and Path(summary["outputs"]["csv"]).is_file()
