"""External marks: secret (not derivable from the mark), reused on resume, of the mark's family."""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np
import pytest

from audit.errors import AuditInputError, ExternalTooCloseError
from audit.inputs import externals as externals_module
from audit.inputs.externals import choose_externals
from audit.runner.run import run_probability_audit
from audit.spending.budget import Budget
from marks.kinds import make_mark
from marks.mark import Mark, MarkKind
from marks.pool import build_pool, draw
from marks.store import MarkStore
from providers.mock.classifier import MockClassifier

OPTIONS = {"n": 6, "externals": 4, "level": 0.2}  # 5 marks x 6 images; rank p ≥ 1/5


def fingerprints(marks: list[Mark]) -> list[str]:
    return [mark.fingerprint for mark in marks]


def store_with(root: Path, *marks: Mark) -> MarkStore:
    store = MarkStore.open(root)
    for mark in marks:
        store.add(mark)
    return store


def fingerprint_derived(mark: Mark, count: int) -> list[str]:
    """What the externals were before: seeds from the mark's fingerprint alone."""
    out = []
    for index in range(count):
        text = f"{mark.fingerprint}:external:{index}:0"
        seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little") >> 1
        out.append(make_mark("x", mark.kind, seed=seed).fingerprint)
    return out


@pytest.mark.parametrize("kind", ["dead_leaves", "procedural", "square", "pixels"])
def test_externals_are_secret_per_store_and_stable_within_one(tmp_path: Path, kind: str) -> None:
    mark = make_mark("mine", kind, seed=2**100 + 7)
    first = store_with(tmp_path / "a", mark)
    other = store_with(tmp_path / "b", mark)  # the same mark, held elsewhere
    a = choose_externals(mark, 3, store=first)
    assert a.exchangeable and a.reason == ""
    assert fingerprints(choose_externals(mark, 3, store=first).marks) == fingerprints(a.marks)
    b = choose_externals(mark, 3, store=other)
    assert not set(fingerprints(a.marks)) & set(fingerprints(b.marks))
    assert not set(fingerprints(a.marks)) & set(fingerprint_derived(mark, 3))
    assert {m.kind for m in a.marks} == {MarkKind(kind)}  # the mark's own family
    keys = first.externals_dir / "mine.keys.json"
    assert (
        keys.stat().st_mode & 0o777 == 0o600 and first.externals_dir.stat().st_mode & 0o777 == 0o700
    )


def test_resumed_audit_reuses_its_externals_and_another_store_does_not(
    tmp_path: Path, make_image_folder
) -> None:
    make_image_folder(tmp_path / "aux" / "dog", 6, size=12)
    mark = make_mark("mine", "procedural", seed=2**90 + 1)
    model = MockClassifier(["cat", "dog", "ship"], seed=3)

    def audit(store: MarkStore) -> dict:
        return run_probability_audit(
            model, mark=mark, externals=[], label="cat", aux_dir=tmp_path / "aux", alpha=0.4,
            method="calibrated", options=OPTIONS, workspace=tmp_path / "ws",
            budget=Budget.unlimited(), report_dir=None, store=store,
        ).to_json()  # fmt: skip

    store = store_with(tmp_path / "s1", mark)
    first = audit(store)
    assert first["queries"]["billed"] == 30
    again = audit(store)  # resumed in the same store: every query from the ledger
    assert again["queries"]["billed"] == 0 and again["queries"]["cached"] == 30
    elsewhere = audit(store_with(tmp_path / "s2", mark))  # other secrets, other externals
    assert elsewhere["queries"]["billed"] == 24 and elsewhere["queries"]["cached"] == 6


def test_external_identical_or_close_to_the_mark_is_refused(tmp_path: Path) -> None:
    mark = make_mark("mine", "procedural", seed=2**80 + 3)
    store = store_with(tmp_path / "s", mark)
    twin = Mark("twin", mark.kind, mark.pixels, mark.mask)
    with pytest.raises(ExternalTooCloseError, match="identical to the audited mark 'mine'"):
        choose_externals(mark, 4, store=store, held=[twin])
    nudged = Mark("nudged", mark.kind, np.clip(mark.pixels + 0.05, 0, 1), mark.mask)
    with pytest.raises(ExternalTooCloseError, match="within normalized L∞"):
        choose_externals(mark, 4, store=store, held=[nudged])


def test_generated_external_too_close_is_refused(tmp_path: Path, monkeypatch) -> None:
    mark = make_mark("mine", "procedural", seed=12345)
    store = store_with(tmp_path / "s", mark)
    # A generator that only ever draws the mark itself: never accepted as an external.
    monkeypatch.setattr(externals_module, "external_seed", lambda key, index, attempt: 12345)
    with pytest.raises(ExternalTooCloseError, match="identical to the audited mark"):
        choose_externals(mark, 2, store=store)


def test_photo_mark_without_pool_is_not_exact(tmp_path: Path, kit) -> None:
    photo = kit.save(tmp_path / "photo.png", kit.photo(64, 64, seed=4))
    mark = make_mark("pic", "blend", seed=0, image=photo)
    chosen = choose_externals(mark, 3, store=store_with(tmp_path / "s", mark))
    assert not chosen.exchangeable and "--pool" in chosen.reason
    assert {m.kind for m in chosen.marks} == {MarkKind.PROCEDURAL}


def test_photo_mark_audit_result_says_not_exact(tmp_path: Path, kit, make_image_folder) -> None:
    make_image_folder(tmp_path / "aux" / "dog", 6, size=12)
    mark = make_mark("pic", "blend", seed=0, image=kit.save(tmp_path / "p.png", kit.photo()))
    outcome = run_probability_audit(
        MockClassifier(["cat", "dog", "ship"], seed=3), mark=mark, externals=[], label="cat",
        aux_dir=tmp_path / "aux", alpha=0.4, method="calibrated", options=OPTIONS,
        workspace=tmp_path / "ws", budget=Budget.unlimited(), report_dir=None,
        store=store_with(tmp_path / "s", mark),
    ).to_json()  # fmt: skip
    assert outcome["exact"] is False
    assert any("not exact" in note and "--pool" in note for note in outcome["notes"])


def test_held_externals_or_an_old_generator_are_not_exact(tmp_path: Path) -> None:
    mark = make_mark("mine", "procedural", seed=2**70)
    picked = make_mark("picked", "procedural", seed=2**70 + 1)
    store = store_with(tmp_path / "s", mark)
    chosen = choose_externals(mark, 3, store=store, held=[picked])
    assert fingerprints(chosen.marks)[0] == picked.fingerprint and len(chosen.marks) == 3
    assert not chosen.exchangeable and "--external" in chosen.reason
    # A procedural mark today's generator does not make from its seed (an older version).
    older = Mark("older", MarkKind.PROCEDURAL, 1 - mark.pixels, mark.mask, seed=mark.seed)
    made = choose_externals(older, 2, store=store)
    assert not made.exchangeable and "older version" in made.reason


def test_pool_mark_externals_are_the_pools_other_photos(tmp_path: Path, kit) -> None:
    folder = tmp_path / "pool"
    for index in range(22):
        kit.save(folder / f"p{index:02d}.png", kit.photo(64, 72, seed=300 + index))
    drawn = draw(build_pool(folder, "blend"), "pm")
    store = MarkStore.open(tmp_path / "s")
    store.add(drawn.mark, pool=drawn)
    mark = store.get("pm")
    every = {make_mark("p", "blend", seed=0, image=path).fingerprint for path in folder.iterdir()}
    chosen = choose_externals(mark, 21, store=store)
    assert chosen.exchangeable and chosen.reason == ""
    assert set(fingerprints(chosen.marks)) == every - {mark.fingerprint}
    some = choose_externals(mark, 5, store=store)  # a secret random subset, the same each time
    assert set(fingerprints(some.marks)) < every - {mark.fingerprint}
    assert fingerprints(choose_externals(mark, 5, store=store).marks) == fingerprints(some.marks)
    with pytest.raises(AuditInputError, match="pass --externals 21 or fewer"):
        choose_externals(mark, 22, store=store)
