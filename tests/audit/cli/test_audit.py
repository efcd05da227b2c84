"""``isotope audit ...`` with the mock provider: JSON shape, reports, exit codes, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from audit.cli import audit as cli_audit
from audit.cli.app import app
from marks.kinds import make_mark
from marks.store import MarkStore
from providers.errors import PermanentError, ProviderOptionError
from providers.mock.target import mock_from_target
from providers.rate_limit import RateLimiter

# Small audits: 40 queries. With 4 externals a rank p-value is at least 1/5, so the
# level suits them (a level the test could never reach is refused).
FAST = ["--externals", "4", "--n", "8", "--level", "0.2"]


@pytest.fixture
def setup(tmp_path, make_image_folder):
    """A store with marks 'mine' and 'other', and an aux folder with dog/ship/cat images."""
    store = MarkStore.open(tmp_path / "store")
    store.add(make_mark("mine", "procedural", seed=11))
    store.add(make_mark("other", "procedural", seed=12))
    for index, label in enumerate(["dog", "ship", "cat"]):
        make_image_folder(tmp_path / "aux" / label, 6, seed=index, size=12)
    return tmp_path


def invoke(root: Path, *args: str) -> tuple[int, dict | None, str]:
    base = ["--store", str(root / "store"), "--workspace", str(root / "ws")]
    result = CliRunner().invoke(app, ["audit", *args, *base])
    try:
        payload = json.loads(result.stdout.strip().splitlines()[-1])
    except (json.JSONDecodeError, IndexError):
        payload = None
    return result.exit_code, payload, result.stderr


def audit(root: Path, *extra: str, command: str = "probability") -> tuple[int, dict | None, str]:
    return invoke(
        root, command, "--mark", "mine", "--label", "cat", "--aux", str(root / "aux"), *extra
    )


def test_probability_json_shape_and_report(setup):
    code, out, _ = audit(setup, *FAST, "--target", "trained-on=mine:cat:8", "--json")
    assert code == 0
    assert out["verdict"] == "detected" and out["method"] == "calibrated"
    assert out["label"] == "cat" and out["p_value"] == pytest.approx(0.2)
    assert out["calibration"] == "rank" and out["exact"] is True and out["exact_reason"]
    assert out["queries"] == {
        "billed": 40, "cached": 0, "attempts": 1, "unanswered": 0, "refused": 0
    }  # fmt: skip
    assert out["cost_usd"] == 0.0 and len(out["rounds"]) == 1
    report = Path(out["report"])
    document = json.loads((report / "report.json").read_text())
    assert document["schema_version"] == 1 and document["result"]["verdict"] == "detected"
    assert document["aux"] == {
        "folder": str(setup / "aux"),
        "images": 12,
        "unreadable": [],
        "excluded": 6,
    }
    summary = (report / "summary.txt").read_text()
    assert "null hypothesis: the model did not learn the mark" in summary
    assert "if the null hypothesis were true" in summary
    assert "calibration: rank — exact" in summary
    assert "p = 0.2 is the strongest evidence 4 external marks can give" in summary
    assert document["result"]["exact"] is True and document["result"]["calibration"] == "rank"
    assert (report / "shifts.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert "fingerprint" not in json.dumps(document)  # reports never identify the mark
    # Repeating the audit pays nothing: every reply comes from the ledger.
    code, again, _ = audit(setup, *FAST, "--target", "trained-on=mine:cat:8", "--json")
    assert code == 0 and again["queries"]["billed"] == 0 and again["queries"]["cached"] == 40
    assert again["p_value"] == out["p_value"]


def test_clean_model_is_not_accused(setup):
    # "other" has an ordinary natural effect on "cat" in this clean mock ("mine" happens to
    # sit near the 98th percentile of marks: with 4 externals it tops them, p = 0.2).
    args = ["probability", "--mark", "other", "--label", "cat", "--aux", str(setup / "aux"), *FAST]
    code, out, _ = invoke(setup, *args, "--json")
    assert code == 0 and out["verdict"] == "not_detected" and out["p_value"] > 0.2
    base = ["--store", str(setup / "store"), "--workspace", str(setup / "ws")]
    result = CliRunner().invoke(app, ["audit", *args, *base])
    assert result.exit_code == 0
    assert "verdict: not detected\n" in result.stdout and "not_detected" not in result.stdout
    assert "not proof that your images were unused" in result.stdout
    assert "calibration: rank — exact" in result.stdout


def test_rank_scan_and_distinguish(setup):
    code, out, _ = audit(
        setup, *FAST, "--top-k", "2", "--target", "trained-on=mine:cat:8", "--json",
        command="rank",
    )  # fmt: skip
    assert code == 0 and out["method"] == "rank" and out["verdict"] == "detected"
    code, out, _ = invoke(
        setup, "scan", "--mark", "mine", "--aux", str(setup / "aux"), "--labels", "cat,dog,ship",
        "--target", "trained-on=mine:dog:8", *FAST, "--json",
    )  # fmt: skip
    assert code == 0 and out["method"] == "scan" and out["label"] == "dog"
    assert out["verdict"] == "detected" and len(out["rounds"]) == 3
    both = ["--mark", "mine", "--label", "cat", "--other-mark", "other", "--other-label", "ship",
            "--aux", str(setup / "aux"), "--n", "6",
            "--target", "trained-on=mine:cat:8,trained-on=other:ship:8", "--json"]  # fmt: skip
    code, out, _ = invoke(setup, "distinguish", *both, "--externals", "4", "--level", "0.2")
    assert code == 0 and out["method"] == "distinguish" and out["verdict"] == "detected"
    assert out["queries"]["billed"] == 36  # two marks and 4 externals on 6 images
    assert out["exact"] is True
    code, out, _ = invoke(setup, "distinguish", *both, "--externals", "0")  # the paper's test
    assert code == 0 and out["verdict"] == "detected" and out["exact"] is False
    assert out["queries"]["cached"] == 12  # two marks on the 6 images, from the ledger


def test_dry_run_prints_the_plan_and_sends_nothing(setup):
    code, out, _ = audit(
        setup, *FAST, "--dry-run", "--json", "--provider", "mock", "--price-per-query", "0.01"
    )
    assert code == 0 and out["dry_run"] is True
    assert out["max_queries"] == 40 and out["worst_case_usd"] == pytest.approx(0.4)
    assert out["images_available"] == 12 and out["images_excluded"] == 6
    assert not (setup / "ws").exists()


def test_budget_spent_mid_audit_exits_3_with_evidence(setup):
    # One round is 2 marks x 4 images; later rounds draw other images and need more.
    args = ["--method", "paper", "--externals", "1", "--n", "4", "--rounds", "3", "--json"]
    code, out, _ = audit(setup, *args, "--budget-queries", "8")
    assert code == 3
    assert out["verdict"] == "inconclusive" and out["reason"] == "budget spent"
    assert out["queries"]["billed"] == 8 and len(out["rounds"]) == 1
    summary = (Path(out["report"]) / "summary.txt").read_text()
    assert "verdict: inconclusive (budget spent)" in summary  # the evidence so far is kept


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--budget-queries", "10"], "the budget pays for 10 queries"),
        (["--budget-usd", "0.01", "--price-per-query", "0.001"], "pays for 10 queries"),
        (["--n", "13", "--externals", "4"], "--n 13 is larger than the 12 usable images"),
        (["--label", "unicorn"], "label 'unicorn' is not one of the model's 10 labels"),
        (["--mark", "ghost"], "unknown mark 'ghost'"),
        (["--external", "mine"], "is an audited mark"),
        (["--method", "magic"], "'magic' is not one of 'calibrated', 'sequential', 'paper'"),
        (["--method", "calibrated", "--rounds", "3"], "method 'calibrated'"),
        (["--level", "0.01"], "can never detect at level 0.01 with 4 external marks"),
        (["--method", "sequential", "--level", "0.1"], "can never detect at level 0.1"),
        (["--alpha", "1.5"], "alpha must be in (0, 1]"),
        (["--target", "colour=blue"], "mock target: cannot read 'colour=blue'"),
        (["--provider", "acme"], "'acme' is not one of 'mock', 'local', 'vertex'"),
    ],
)
def test_bad_input_exits_2_with_a_clear_message(setup, args, message):
    code, out, err = audit(setup, *FAST, "--json", *args)
    assert code == 2, err
    assert message in out["error"] and out["kind"] == "bad_input"
    assert message in " ".join(err.split())
    assert "Traceback" not in err


def test_aux_folder_problems_exit_2(setup, make_image_folder):
    (setup / "only").mkdir()
    make_image_folder(setup / "only" / "cat", 3)
    code, out, _ = invoke(
        setup, "probability", "--mark", "mine", "--label", "cat", "--json",
        "--aux", str(setup / "only"), *FAST,
    )  # fmt: skip
    assert code == 2 and "is of the audited label 'cat'" in out["error"]
    (setup / "empty").mkdir()
    code, out, _ = invoke(
        setup, "probability", "--mark", "mine", "--label", "cat", "--json",
        "--aux", str(setup / "empty"), *FAST,
    )  # fmt: skip
    assert code == 2 and "holds no images" in out["error"]


def test_provider_failure_exits_1(setup, monkeypatch):
    class Refusing:
        provider, target, max_batch, max_concurrency = "mock", "refusing", 8, 1
        parameters = property(lambda self: {})

        def labels(self):
            return ["cat", "dog", "ship"]

        def model_identity(self):
            return None

        def classify(self, images):
            raise PermanentError("HTTP 403 permission denied", provider="mock", operation="op")

    monkeypatch.setattr(
        cli_audit, "build_provider", lambda *a, **k: (Refusing(), RateLimiter(None))
    )
    code, out, err = audit(setup, *FAST, "--json")
    assert code == 1 and out["kind"] == "provider"
    assert "op: HTTP 403 permission denied" in err and "Traceback" not in err


def test_mock_targets(setup):
    store = MarkStore.open(setup / "store")

    def mock(target: str, top_k: int | None = None):
        return mock_from_target(
            target, resolve_mark=lambda name: store.get(name).fingerprint, top_k=top_k
        )

    clean, planted = mock(""), mock("trained-on=mine:cat,seed=4")
    assert clean.labels()[:3] == ["airplane", "automobile", "bird"]
    assert clean.target != planted.target and planted.seed == 4
    top = mock("labels=cat+dog+ship", top_k=2)
    assert top.labels() == ["cat", "dog", "ship"] and top.parameters["k"] == 2
    with pytest.raises(ProviderOptionError, match="must be MARK:LABEL"):
        mock("trained-on=mine")


def test_scan_with_own_images_proposes_and_tests_one_label(setup, make_image_folder):
    make_image_folder(setup / "own", 5, seed=9, size=12)
    code, out, _ = invoke(
        setup, "scan", "--mark", "mine", "--aux", str(setup / "aux"), "--own", str(setup / "own"),
        *FAST, "--json",
    )  # fmt: skip
    assert code == 0 and out["method"] == "calibrated"
    proposals = out["proposals"]
    assert 1 <= len(proposals) <= 3 and out["label"] == proposals[0]["label"]
    assert out["queries"]["billed"] == 5 + 40  # own images, then the single test
    code, plan, _ = invoke(
        setup, "scan", "--mark", "mine", "--aux", str(setup / "aux"), "--own", str(setup / "own"),
        *FAST, "--json", "--dry-run",
    )  # fmt: skip
    assert code == 0 and plan["own_images"] == 5 and plan["max_queries"] == 5 + 40
