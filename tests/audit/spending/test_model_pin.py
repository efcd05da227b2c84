"""Replies are keyed on the model that gave them; an audit pins one model at its start."""

from __future__ import annotations

import json
import random
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from audit.spending.budget import Budget
from audit.spending.ledger import Ledger, LedgeredClassifier, query_key
from audit.spending.model_pin import FIRST_REPLY, NOT_TOLD, PROBE, TOLD
from providers.errors import ModelChangedError, PermanentError
from providers.retry import RetryPolicy
from providers.scores import Scores

from ..conftest import LABELS, FakeClassifier, fake_probs


def no_wait_retry() -> RetryPolicy:
    return RetryPolicy(sleep=lambda s: None, rng=random.Random(0))


class Served(FakeClassifier):
    """A fake endpoint whose replies name ``self.model``; it tells the model for free
    when ``tells`` (as Vertex's endpoint resource does)."""

    def __init__(self, model: str | None, *, tells: bool = False, **options) -> None:
        super().__init__(reply=self._answer, **options)
        self.model = model
        self.tells = tells

    def _answer(self, image) -> Scores:
        probs = fake_probs(image, LABELS)
        if self.model == "other-weights":  # a different model answers differently
            probs = dict(zip(LABELS, reversed(list(probs.values())), strict=True))
        return Scores(probs, model=self.model)

    def model_identity(self) -> str | None:
        return self.model if self.tells else None


@contextmanager
def ledgered(classifier, path, **options) -> Iterator[LedgeredClassifier]:
    """A ledgered classifier on the ledger at ``path``, closed (and unlocked) after."""
    ledger = Ledger(path)
    try:
        yield LedgeredClassifier(classifier, ledger, retry=no_wait_retry(), **options)
    finally:
        ledger.close()


def test_a_redeployed_model_is_never_answered_from_the_old_models_replies(
    tmp_path, make_query_images
):
    images = make_query_images(6)
    path = tmp_path / "l.sqlite"
    with ledgered(Served("model-a", tells=True), path) as first:
        old = first.classify(images)
    assert first.pin is not None and (first.pin.identity, first.pin.source) == ("model-a", TOLD)
    # The owner redeploys another model under the same target.
    redeployed = Served("other-weights", tells=True)
    with ledgered(redeployed, path) as second:
        new = second.classify(images)
    assert (second.counts.billed, second.counts.cached) == (6, 0)
    assert len(redeployed.sent) == 6
    assert [r.values for r in new] != [r.values for r in old]
    assert all(r.model == "other-weights" for r in new)
    # The same model again: everything from the ledger.
    with ledgered(Served("model-a", tells=True), path) as third:
        assert [r.values for r in third.classify(images)] == [r.values for r in old]
    assert (third.counts.billed, third.counts.cached) == (0, 6)


def test_a_model_change_mid_audit_stops_it_and_keeps_the_replies(tmp_path, make_query_images):
    images = make_query_images(8)
    path = tmp_path / "l.sqlite"
    served = Served("model-a", tells=True, max_batch=2)
    budget = Budget(None, None, 0.01)
    with ledgered(served, path, budget=budget) as classifier:
        classifier.classify(images[:4])
        served.model = "model-b"  # the endpoint now routes to another deployed model
        with pytest.raises(ModelChangedError) as caught:
            classifier.classify(images[4:])
    message = str(caught.value)
    assert "model-a" in message and "model-b" in message
    assert "kept in the ledger" in message and "run the audit again" in message
    assert (caught.value.pinned, caught.value.answered) == ("model-a", "model-b")
    assert isinstance(caught.value, PermanentError)  # no retry can fix it
    assert classifier.counts.billed == 6 == budget.spent_queries  # paid, and accounted
    # A rerun pins the new model: the replies it already gave are not paid twice, and
    # none of model A's answers for it.
    with ledgered(Served("model-b", tells=True, max_batch=2), path) as rerun:
        replies = rerun.classify(images)
    assert (rerun.counts.cached, rerun.counts.billed) == (2, 6)
    assert {r.model for r in replies} == {"model-b"}


def test_without_a_told_identity_the_first_reply_pins_at_no_extra_cost(tmp_path, make_query_images):
    images = make_query_images(5)
    served = Served("model-a", max_batch=2)
    with ledgered(served, tmp_path / "l.sqlite") as classifier:
        classifier.classify(images)
        assert classifier.pin is not None
        assert (classifier.pin.identity, classifier.pin.source) == ("model-a", FIRST_REPLY)
        assert classifier.counts.billed == 5 and len(served.sent) == 5  # no probe
        served.model = "model-b"
        with pytest.raises(ModelChangedError, match="model-b"):
            classifier.classify(make_query_images(2, seed=1))


def test_with_replies_on_file_one_probe_tells_which_model_serves_now(tmp_path, make_query_images):
    images = make_query_images(4)
    path = tmp_path / "l.sqlite"
    with ledgered(Served("model-a"), path) as first:
        first.classify(images)
    # Same model, resumed: one probe (billed) and the rest from the ledger.
    with ledgered(Served("model-a"), path) as same:
        same.classify(images)
    assert same.pin is not None and (same.pin.identity, same.pin.source) == ("model-a", PROBE)
    assert (same.counts.billed, same.counts.cached) == (1, 3)
    # Another model now: the probe says so and nothing of model A answers.
    with ledgered(Served("other-weights"), path) as changed:
        replies = changed.classify(images)
    assert changed.pin is not None and changed.pin.identity == "other-weights"
    assert (changed.counts.billed, changed.counts.cached) == (4, 0)
    assert {r.model for r in replies} == {"other-weights"}


def test_a_service_that_never_names_its_model_is_pinned_unknown(tmp_path, make_query_images):
    images = make_query_images(3)
    path = tmp_path / "l.sqlite"
    with ledgered(Served(None), path) as first:
        first.classify(images)
    assert first.pin is not None and (first.pin.identity, first.pin.source) == (None, NOT_TOLD)
    with ledgered(Served(None), path) as again:
        again.classify(images)
    assert (again.counts.billed, again.counts.cached) == (0, 3)  # no probe: it cannot tell


def test_an_old_ledger_is_migrated_and_unidentified_rows_never_answer(tmp_path, make_query_images):
    path = tmp_path / "old.sqlite"
    images = make_query_images(2)
    with sqlite3.connect(path) as db:
        db.execute(
            "CREATE TABLE queries (key TEXT PRIMARY KEY, provider TEXT NOT NULL, target TEXT "
            "NOT NULL, image_digest TEXT NOT NULL, parameters TEXT NOT NULL, reply TEXT NOT "
            "NULL, time REAL NOT NULL, attempts INTEGER NOT NULL, cost_usd REAL NOT NULL)"
        )
        for index, (image, model) in enumerate(zip(images, ["model-a", None], strict=True)):
            reply = Scores({"cat": 0.9, "dog": 0.05, "ship": 0.05}, model=model).to_json()
            db.execute(
                "INSERT INTO queries VALUES (?, ?, ?, ?, ?, ?, 0, 1, 0.5)",
                (f"old-key-{index}", "fake", "fake-model", image.digest,
                 '{"mode":"full"}', json.dumps(reply)),
            )  # fmt: skip
    db.close()
    ledger = Ledger(path)
    assert ledger.models("fake", "fake-model") == {"model-a"}
    assert ledger.totals()["queries"] == 2  # nothing paid for is dropped
    key = query_key("fake", "fake-model", images[0].digest, {"mode": "full"}, model="model-a")
    assert set(ledger.get_many([key])) == {key}
    ledger.close()
    served = Served("model-a", tells=True)
    with ledgered(served, path) as classifier:
        replies = classifier.classify(images)
    assert replies[0].values["cat"] == 0.9  # the identified old reply answers
    assert (classifier.counts.cached, classifier.counts.billed) == (1, 1)
    assert served.sent == [images[1]]  # the unidentified one is asked afresh
    Ledger(path).close()  # opening a migrated ledger again changes nothing
