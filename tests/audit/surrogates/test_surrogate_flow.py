"""``isotope surrogate train`` and ``audit ... --surrogate``: secrets kept, misuse refused."""

from __future__ import annotations

import json
import random
import stat
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from audit.cli.app import app
from audit.inputs import externals as externals_module
from audit.inputs.externals import choose_externals
from audit.surrogates.models import SurrogateSet, as_statistic
from marks import decoys as decoys_module
from marks.decoys import decoys_of, draw_decoys
from marks.kinds import make_mark
from marks.store import MarkStore

FAST = ["--externals", "4", "--n", "6", "--level", "0.2"]


@pytest.fixture(autouse=True)
def reproducible_decoys(monkeypatch: pytest.MonkeyPatch) -> None:
    """Decoy seeds from a seeded sequence (128-bit, like ``secrets``), so verdicts repeat."""
    rng = random.Random(20251130)
    monkeypatch.setattr(decoys_module, "new_seed", lambda: rng.getrandbits(128))


@pytest.fixture
def root(tmp_path: Path, make_image_folder) -> Path:
    """A store with dead-leaves mark 'mine', a labelled folder and an aux folder."""
    store = MarkStore.open(tmp_path / "store")
    store.add(make_mark("mine", "dead_leaves", seed=2**100 + 1))
    store.add(make_mark("other", "dead_leaves", seed=2**100 + 2))
    for index, label in enumerate(["cat", "dog", "ship"]):
        make_image_folder(tmp_path / "data" / label, 10, seed=index)
        if label != "cat":
            make_image_folder(tmp_path / "aux" / label, 6, seed=10 + index)
    return tmp_path


def cli(root: Path, *args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, [*args, "--store", str(root / "store")])
    return result.exit_code, result.stdout, result.stderr


def train(root: Path, *extra: str, out: str = "sur") -> tuple[int, str, str]:
    return cli(
        root, "surrogate", "train", str(root / "data"), "--mark", "mine", "--label", "cat",
        "--out", str(root / out), "--epochs", "1", "--device", "cpu", "--seed", "1", *extra,
    )  # fmt: skip


def audit(root: Path, *extra: str, command: str = "probability") -> tuple[int, dict | None, str]:
    code, out, err = cli(
        root, "audit", command, "--mark", "mine", "--label", "cat", "--aux", str(root / "aux"),
        "--workspace", str(root / "ws"), *FAST, *extra,
    )  # fmt: skip
    try:
        return code, json.loads(out.strip().splitlines()[-1]), err
    except (json.JSONDecodeError, IndexError):
        return code, None, err + out


def test_train_writes_private_models_and_keeps_decoy_seeds_in_the_store(root: Path) -> None:
    code, out, err = train(root, "--decoys", "2", "--clean", "--json")
    assert code == 0, err
    made = json.loads(out)
    assert made["decoys"] == 2 and made["clean"] == 1 and len(made["models"]) == 3
    assert made["plan"]["models"] == 3 and made["plan"]["images"] == 30  # said up front
    folder = root / "sur"
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    assert stat.S_IMODE((folder / "surrogate.json").stat().st_mode) == 0o600
    store = MarkStore.open(root / "store")
    mark = store.get("mine")
    manifest = json.loads((folder / "surrogate.json").read_text())
    decoys = decoys_of(store, mark, manifest["decoy_set"])
    assert len(decoys) == 2 and decoys[0].kind == mark.kind  # the mark's own family
    seeds = [format(d.seed, "x") for d in decoys] + [str(d.seed) for d in decoys]
    for text in (out, err, (folder / "surrogate.json").read_text()):
        assert not any(seed in text for seed in seeds)  # decoy seeds are never shown
    loaded = SurrogateSet.load(folder)
    assert loaded.labels == ["cat", "dog", "ship"] and loaded.groups == [0, 0, 1]


def test_train_refuses_what_would_break_the_audit(root: Path, tmp_path: Path) -> None:
    code, _, err = train(root, "--decoys", "0")
    assert code == 2 and "nothing to train" in err
    code, _, err = train(root, "--label", "horse")
    assert code == 2 and "no subfolder 'horse'" in err
    (root / "busy").mkdir()
    (root / "busy" / "x").write_text("")
    code, _, err = train(root, out="busy")
    assert code == 2 and "not an empty folder" in err
    # The person's marked copies must not reach a surrogate: it would learn the mark.
    code, _, err = cli(root, "mark", str(root / "data" / "cat"), "--mark", "mine", "--out",
                       str(tmp_path / "posted"), "--fraction", "0.5", "--seed", "3")  # fmt: skip
    assert code == 0, err
    mixed = tmp_path / "mixed"
    for label in ("dog", "ship"):
        (mixed / label).mkdir(parents=True)
        for path in (root / "data" / label).iterdir():
            (mixed / label / path.name).write_bytes(path.read_bytes())
    (mixed / "cat").mkdir()
    for path in (tmp_path / "posted").iterdir():
        (mixed / "cat" / path.name).write_bytes(path.read_bytes())
    code, _, err = cli(root, "surrogate", "train", str(mixed), "--mark", "mine", "--label", "cat",
                       "--out", str(tmp_path / "s2"), "--epochs", "1")  # fmt: skip
    assert code == 2 and "marked copies of your mark" in err
    # A photo mark's family is not generated from seeds: no decoys for it.
    store = MarkStore.open(root / "store")
    photo = root / "data" / "dog" / "img000.png"
    store.add(make_mark("photo", "blend", seed=1, image=photo), force=True)
    code, _, err = cli(root, "surrogate", "train", str(root / "data"), "--mark", "photo",
                       "--label", "cat", "--out", str(tmp_path / "s3"))  # fmt: skip
    assert code == 2 and "--decoys 0 --clean" in err
    assert not (tmp_path / "s3").exists()  # refused before anything was made


def test_audit_with_surrogate_is_exact_and_says_which(root: Path) -> None:
    assert train(root, "--decoys", "1", "--clean")[0] == 0
    trained = ["--target", "trained-on=mine:cat:8", "--json", "--surrogate", str(root / "sur")]
    # Two regressors fit on K = 4 marks leave little: 9 externals here, p reaches 0.1.
    code, out, err = audit(root, *trained, "--externals", "9", "--level", "0.1")
    assert code == 0, err
    assert out["verdict"] == "detected" and out["exact"] is True
    assert "adjusted by what your surrogate models predict" in out["exact_reason"]
    described = out["surrogate"]["describe"]
    assert described.startswith("1 decoy surrogate (") and "and 1 clean surrogate," in described
    assert out["queries"]["billed"] == 10 * 6  # surrogates are scored here, not billed
    document = json.loads((Path(out["report"]) / "report.json").read_text())
    assert document["surrogate"]["decoys"] == 1
    assert "fingerprint" not in json.dumps(document)
    summary = (Path(out["report"]) / "summary.txt").read_text()
    assert "surrogate: 1 decoy surrogate" in summary and "spreads" in summary
    code, out, _ = audit(root, "--json", "--surrogate", str(root / "sur"), command="rank")
    assert code == 0 and out["method"] == "rank" and "surrogate" in out


def test_audit_refuses_a_surrogate_it_cannot_use(root: Path) -> None:
    assert train(root, "--decoys", "1")[0] == 0
    use = ["--surrogate", str(root / "sur")]
    code, _, err = audit(root, *use, "--method", "sequential")
    assert code == 2 and "sequential test cannot adjust by surrogates" in err
    code, _, err = cli(root, "audit", "probability", "--mark", "mine", "--label", "cat", "--aux",
                       str(root / "aux"), "--method", "paper", "--n", "6", *use)  # fmt: skip
    assert code == 2 and "method 'paper' cannot adjust by surrogates" in err
    code, _, err = cli(root, "audit", "probability", "--mark", "other", "--label", "cat", "--aux",
                       str(root / "aux"), *FAST, *use)  # fmt: skip
    assert code == 2 and "trained for mark 'mine'" in err
    code, _, err = audit(root, *use, "--label", "dog")
    assert code == 2 and "not on the audited label 'dog'" in err
    code, _, err = audit(root, "--surrogate", str(root / "data"))
    assert code == 2 and "not a surrogate folder" in err
    (root / "sur" / "surrogate.json").chmod(0o644)
    code, _, err = audit(root, *use)
    assert code == 2 and "chmod 600" in err


def test_externals_are_never_a_decoy(root: Path, monkeypatch) -> None:
    store = MarkStore.open(root / "store")
    mark = store.get("mine")
    _, decoys = draw_decoys(store, mark, 1)
    real_seed = externals_module.external_seed
    # Force the first external's first draw to be the decoy itself: it must be redrawn.
    monkeypatch.setattr(
        externals_module,
        "external_seed",
        lambda key, index, attempt=0: (
            decoys[0].seed if (index, attempt) == (0, 0) else real_seed(key, index, attempt)
        ),
    )
    chosen = choose_externals(mark, 3, store=store, avoid=decoys)
    assert decoys[0].fingerprint not in {m.fingerprint for m in chosen.marks}
    assert chosen.exchangeable and "redrawn" in " ".join(chosen.notes)


def test_surrogate_scores_match_the_oracle_statistics() -> None:
    probs = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8]])
    assert np.allclose(as_statistic(probs, "log_prob"), np.log(probs))
    assert as_statistic(probs, "neg_rank").tolist() == [[-1, -2, -3], [-2, -2, -1]]
    assert np.array_equal(as_statistic(probs, "confidence"), probs)
    with pytest.raises(ValueError, match="statistic"):
        as_statistic(probs, "odds")
