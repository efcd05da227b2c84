"""Revealing a mark proves the commitment published for it, and nothing else does."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from audit.cli.app import app
from marks.errors import MarkingError
from marks.kinds import make_mark
from marks.proof import MARK_PNG, PROOF_JSON, check_proof, write_proof
from marks.store import MarkStore


def test_a_revealed_mark_proves_its_commitment(tmp_path: Path) -> None:
    store = MarkStore.open(tmp_path / "store")
    store.add(make_mark("mine", "procedural", seed=2**100 + 7))
    published = store.info("mine")["commitment"]["value"]
    args = ["marks", "reveal", "mine", "--out", str(tmp_path / "proof"), "--yes"]
    result = CliRunner().invoke(app, [*args, "--store", str(tmp_path / "store")])
    assert result.exit_code == 0, result.stderr
    check = check_proof(tmp_path / "proof", published)
    assert check.fingerprint == store.get("mine").fingerprint
    assert check.matches_recorded and check.matches_published
    verify = ["marks", "verify", str(tmp_path / "proof"), "--commitment", published, "--json"]
    shown = CliRunner().invoke(app, verify)
    assert shown.exit_code == 0 and json.loads(shown.stdout)["valid"] is True


def test_another_mark_or_a_changed_pixel_does_not_prove_it(tmp_path: Path) -> None:
    mine, other = make_mark("mine", "procedural", seed=1), make_mark("x", "procedural", seed=2)
    store = MarkStore.open(tmp_path / "store")
    store.add(mine)
    commitment = store.info("mine")["commitment"]
    write_proof(other, commitment, tmp_path / "wrong")
    assert not check_proof(tmp_path / "wrong", commitment["value"]).matches_published
    result = CliRunner().invoke(
        app, ["marks", "verify", str(tmp_path / "wrong"), "--commitment", commitment["value"]]
    )
    assert result.exit_code == 2 and "does NOT match" in result.stdout
    write_proof(mine, commitment, tmp_path / "right")
    png = (tmp_path / "right" / MARK_PNG).read_bytes()
    assert check_proof(tmp_path / "right", commitment["value"]).matches_published
    (tmp_path / "right" / PROOF_JSON).write_text("{not json")
    with pytest.raises(MarkingError, match="not a readable proof folder"):
        check_proof(tmp_path / "right")
    assert png  # the mark itself was written


def test_reveal_asks_before_giving_the_mark_away(tmp_path: Path) -> None:
    store = MarkStore.open(tmp_path / "store")
    store.add(make_mark("mine", "procedural", seed=3))
    args = [
        "marks",
        "reveal",
        "mine",
        "--out",
        str(tmp_path / "p"),
        "--store",
        str(tmp_path / "store"),
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 2 and "--yes" in result.stderr
    assert not (tmp_path / "p").exists()
