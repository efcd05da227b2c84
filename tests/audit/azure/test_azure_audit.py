"""``isotope audit ... --provider azure`` end to end: CLI and library, real SDK, fake service.

Detected on the tagger trained with the person's isotopes, not detected on the one
trained with someone else's; under injected faults the same verdict, nothing paid for
twice, the budget and the client's rate kept; the key nowhere in what the audit writes.
"""

from __future__ import annotations

import json
import logging
import sqlite3
from pathlib import Path

import pytest
from typer.testing import CliRunner

from audit.cli.app import app
from audit.runner.request import AuditRequest
from audit.runner.run import run_audit
from audit.spending.budget import Budget
from audit.spending.ledger import LEDGER_FILE
from audit.verifiers.protocol import Question
from audit.verifiers.registry import build_verifier
from fixtures.fake_azure.faults import FAULT_KINDS, FaultPlan
from fixtures.fake_azure.quota import Quota
from marks.store import MarkStore
from providers.azure.spec import SPEC
from providers.azure.tagger import AzureTagger
from providers.rate_limit import RateLimiter

TAG = "portrait"  # the tag both fake taggers learned (``Tagger.tag``)
SMALL = ["--externals", "19", "--level", "0.05"]  # 20 marks × 5 images: exact at p = 0.05
FAST_RATE = 200.0  # calls/s for tests that do not measure the rate


def cli(root: Path, tagger, command: str, *args: str, workspace: str = "ws"):
    """Run ``isotope audit COMMAND --provider azure`` on ``tagger``: (exit code, JSON, result)."""
    label = ["--label", TAG] if command in ("probability", "rank") else []
    result = CliRunner().invoke(
        app,
        [
            "audit", command, "--provider", "azure", "--target", tagger.url,
            "--mark", "mine", *label, "--aux", str(root / "aux"),
            "--store", str(root / "store"), "--workspace", str(root / workspace),
            "--json", *args,
        ],
    )  # fmt: skip
    lines = result.stdout.strip().splitlines()
    payload = json.loads(lines[-1]) if lines and lines[-1].startswith("{") else None
    return result.exit_code, payload, result


def clean_answers(tagger, since: int) -> list[str]:
    """Digests of the images the fake answered in full (200, no fault) since ``since``."""
    return [s.body_sha256 for s in tagger.fake.served[since:] if s.status == 200 and not s.fault]


def ledger_rows(workspace: Path) -> int:
    with sqlite3.connect(workspace / LEDGER_FILE) as db:
        return int(db.execute("SELECT COUNT(*) FROM queries").fetchone()[0])


def assert_key_nowhere(key: str, *texts: str, folders: tuple[Path, ...] = ()) -> None:
    """``key`` is in none of ``texts`` and in no file under ``folders`` (the ledger too)."""
    for text in texts:
        assert key not in text
    for folder in folders:
        files = [p for p in folder.rglob("*") if p.is_file()]
        assert files, f"nothing written under {folder}"
        for path in files:
            assert key.encode() not in path.read_bytes(), f"the key is in {path}"


def test_the_cli_detects_the_isotope_and_pays_for_each_query_once(person, isotope, caplog):
    caplog.set_level(logging.DEBUG)
    since = len(isotope.fake.served)
    rate = ["--provider-option", f"rate={FAST_RATE:g}"]
    code, out, result = cli(person, isotope, "probability", *rate)
    assert code == 0, result.output
    assert out["verdict"] == "detected" and out["label"] == TAG and out["p_value"] <= 0.01
    # Threshold output is scored by each tag's confidence, 0 when absent; the rank of the
    # mark among 99 externals of its own family gives the exact p-value.
    assert out["statistic"] == "confidence"
    assert out["calibration"] == "rank" and out["exact"] is True
    billed = out["queries"]["billed"]
    assert billed == 1 + 100 * 5  # one clean probe, then 100 marks × 5 images
    answered = clean_answers(isotope, since)
    assert len(answered) == billed == ledger_rows(person / "ws")
    assert len(set(answered)) == len(answered)  # no image paid for twice
    report = json.loads((Path(out["report"]) / "report.json").read_text())
    assert report["statistic"] == "confidence"
    assert "confidence" in report["result"]["details"]["statistic"]
    # Again in the same workspace: every mark's reply comes from the ledger; only a probe
    # of which model answers now may be sent afresh (a cached reply cannot tell).
    since = len(isotope.fake.served)
    code, again, result = cli(person, isotope, "probability", *rate)
    assert code == 0 and again["p_value"] == out["p_value"]
    assert again["queries"]["billed"] <= 1 and again["queries"]["cached"] >= 500
    assert len(clean_answers(isotope, since)) == again["queries"]["billed"]
    assert_key_nowhere(
        isotope.key, result.stdout, result.stderr, caplog.text, folders=(person / "ws",)
    )


def test_the_library_finds_nothing_on_a_tagger_that_learned_another_mark(person, clean):
    store = MarkStore.open(person / "store")
    request = AuditRequest(
        classifier=AzureTagger(clean.url),
        verifier=build_verifier("calibrated", command="probability"),
        mark=store.get("mine"),
        aux_dir=person / "aux",
        alpha=0.4,
        budget=Budget(None, None, SPEC.prices[0].usd),
        question=Question(TAG),
        store=store,
        limiter=RateLimiter(FAST_RATE, SPEC.rate.burst),
    )
    outcome = run_audit(request, workspace=person / "ws")
    result = outcome.result
    assert result.verdict.value == "not_detected" and result.p_value > 0.01
    assert result.exact and outcome.statistic == "confidence"
    assert outcome.counts.billed == 501 and outcome.counts.cost_usd == pytest.approx(0.501)


def test_a_scan_considers_the_tags_that_came_back(person, isotope, clean):
    rate = ["--provider-option", f"rate={FAST_RATE:g}"]
    code, out, result = cli(person, isotope, "scan", *rate)
    assert code == 0, result.output
    assert out["verdict"] == "detected" and out["label"] == TAG and out["exact"] is True
    report = json.loads((Path(out["report"]) / "report.json").read_text())
    scanned = report["result"]["details"]["labels"]
    # The tagger lists no labels: the scan's labels are the tags its replies carried.
    assert TAG in scanned and {"sky", "grass", "snow", "sand"} <= set(scanned)
    assert report["result"]["details"]["detected_labels"] == [TAG]
    code, out, result = cli(person, clean, "scan", *rate, *SMALL, workspace="ws-clean")
    assert code == 0, result.output
    assert out["verdict"] == "not_detected" and out["p_value"] > 0.05


def test_rank_on_threshold_output(person, isotope):
    code, out, result = cli(
        person, isotope, "rank", *SMALL, "--provider-option", f"rate={FAST_RATE:g}"
    )
    assert code == 0, result.output
    assert out["verdict"] == "detected" and out["statistic"] == "neg_rank"
    assert out["p_value"] <= 0.05 and out["exact"] is True


class EveryFifth(FaultPlan):
    """Fail every fifth request, with the fault kinds in turn: each kind shows up."""

    def __post_init__(self) -> None:
        super().__post_init__()
        self._requests = 0

    def draw(self) -> str | None:
        with self._lock:
            self._requests += 1
            if self._requests % 5:
                return None
            kind = self.kinds[(self._requests // 5 - 1) % len(self.kinds)]
            self.injected[kind] += 1
            return kind


@pytest.mark.parametrize("model", ["isotope", "clean"])
def test_faults_change_nothing_but_the_attempts(person, request, model):
    tagger = request.getfixturevalue(model)
    # A slow reply takes 3 s. Only those may outlast the client's timeout: a real reply
    # that did would be answered (and billed by a real service) twice.
    timeout = ["--provider-option", "timeout=1.5"]
    fast = ["--provider-option", f"rate={FAST_RATE:g}"]
    code, calm, result = cli(
        person, tagger, "probability", *SMALL, *timeout, *fast, workspace="calm"
    )
    assert code == 0, result.output

    since = len(tagger.fake.served)
    plan = tagger.fake.faults = EveryFifth(slow_s=3.0, retry_after_s=0.05)
    # The S1 tier's limit, kept by the registry's default client limiter (20/s, burst 10),
    # with the service's own bucket deeper than the client's, as a real service's is.
    rate, burst = SPEC.rate.per_s, SPEC.rate.burst
    tagger.fake.quota = quota = Quota(rate, 2 * burst)
    # What it needs, and room for the calls sent without a usable reply (slow, dropped,
    # garbled): a real service bills those too, so they count against the budget.
    budget = ["--budget-queries", str(2 * calm["queries"]["billed"])]
    code, out, result = cli(
        person, tagger, "probability", *SMALL, *timeout, *budget, workspace="faults"
    )
    assert code == 0, result.output
    assert set(plan.injected) == set(FAULT_KINDS)  # every kind, malformed JSON included
    # The same verdict on the same evidence.
    assert (out["verdict"], out["p_value"], out["label"]) == (
        calm["verdict"],
        calm["p_value"],
        calm["label"],
    )
    assert out["rounds"][0]["true_statistic"] == calm["rounds"][0]["true_statistic"]
    # Paid once per image, within the budget; the retries were extra attempts, not queries.
    billed = out["queries"]["billed"]
    answered = clean_answers(tagger, since)
    assert billed == calm["queries"]["billed"] == len(answered) == len(set(answered))
    assert ledger_rows(person / "faults") == billed
    assert out["queries"]["attempts"] >= billed + sum(plan.injected.values())
    unanswered = sum(plan.injected[kind] for kind in ("slow", "drop", "malformed_json"))
    assert out["queries"]["unanswered"] == unanswered > 0
    assert out["cost_usd"] == pytest.approx((billed + unanswered) * SPEC.prices[0].usd)
    # The client kept its rate: the server's own bucket never had to refuse a call.
    assert quota.refused == 0 and quota.max_in_window(1.0) <= rate + 2 * burst
    assert_key_nowhere(tagger.key, result.stdout, result.stderr, folders=(person / "faults",))


def test_a_budget_too_small_for_the_first_round_sends_nothing(person, isotope):
    since = len(isotope.fake.served)
    code, out, _ = cli(person, isotope, "probability", "--budget-usd", "0.25")
    assert code == 2 and out is not None and "budget" in out["error"]
    assert len(isotope.fake.served) == since


def test_a_refused_key_is_not_repeated_anywhere(person, isotope, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    wrong = "wrong-vision-key-0123456789abcdef"
    monkeypatch.setenv("VISION_KEY", wrong)
    isotope.fake.echo_key = True  # a careless gateway quoting the key it was sent
    code, out, result = cli(person, isotope, "probability", *SMALL)
    assert code == 1 and out is not None and "refused the credentials" in out["error"]
    for text in (result.stdout, result.stderr, caplog.text):
        assert wrong not in text and isotope.key not in text


def test_the_fake_tagger_learned_the_mark_only_where_trained(person, isotope, clean):
    """The fixture itself: both taggers know the tag; only one ties it to the mark."""
    from audit.inputs.aux_images import load_aux_images
    from marks.blend import blend
    from providers.query import QueryImage

    mark = MarkStore.open(person / "store").get("mine")
    aux = load_aux_images(person / "aux")
    queries = [QueryImage.from_array(blend(x, mark, 0.4)) for x in aux.images[:4]]
    with AzureTagger(isotope.url) as tagger:
        marked = tagger.classify(queries)
    with AzureTagger(clean.url) as tagger:
        unmarked = tagger.classify(queries)
    assert all((s.get(TAG) or 0.0) > 0.5 for s in marked)
    assert all(s.get(TAG) is None for s in unmarked)
    assert isotope.fake.tags == clean.fake.tags and TAG in clean.fake.tags


def test_the_marked_tag_is_a_tag_of_its_own():
    from fixtures.fake_azure.tag_model import MarkedTag
    from marks.kinds import make_mark

    with pytest.raises(ValueError, match="must be a new tag"):
        MarkedTag("sky", make_mark("mine", "procedural", seed=11))
