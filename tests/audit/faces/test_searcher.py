"""Face searches through the ledger: billed once, budget, retries, no face, model pinning."""

from __future__ import annotations

import pytest

from audit.errors import BudgetExhausted
from audit.faces.searcher import LedgeredFaceSearch
from audit.spending.budget import Budget
from audit.spending.ledger import Ledger
from providers.errors import BadReplyError, ModelChangedError
from providers.face_collection import FaceSearch, NoFaceFound
from providers.query import QueryImage
from providers.retry import RetryPolicy


def _images(*names: str) -> list[QueryImage]:
    return [QueryImage(name.encode(), "image/png") for name in names]


def _searcher(collection, ledger, **options) -> LedgeredFaceSearch:
    options.setdefault("retry", RetryPolicy(sleep=lambda _s: None))
    return LedgeredFaceSearch(
        collection,
        ledger,
        model=collection.model_identity(),
        max_faces=5,
        threshold=80.0,
        **options,
    )


def test_each_search_is_paid_once_and_resumed_from_the_ledger(tmp_path, fake_collection) -> None:
    fake_collection.enroll(_images("copy-a"), ["me"])
    ledger = Ledger.in_workspace(tmp_path)
    first = _searcher(fake_collection, ledger, budget=Budget(None, None, 0.001))
    outcomes = first.search_many(_images("copy-a", "other", "copy-a", "noface-1"))
    assert isinstance(outcomes[0], FaceSearch) and outcomes[0].matches[0].external_id == "me"
    assert outcomes[0] == outcomes[2] and isinstance(outcomes[3], NoFaceFound)
    assert (first.counts.billed, first.counts.cached) == (3, 1)
    assert first.counts.cost_usd == pytest.approx(0.003) and fake_collection.searches == 3
    # A new run (a resumed audit) pays for nothing it already has.
    again = _searcher(fake_collection, Ledger.in_workspace(tmp_path))
    assert again.search_many(_images("noface-1", "copy-a", "other")) == [
        outcomes[3],
        outcomes[0],
        outcomes[1],
    ]
    assert (again.counts.billed, again.counts.cached) == (0, 3) and fake_collection.searches == 3


def test_budget_reserved_before_sending_and_refunded_on_failure(tmp_path, fake_collection) -> None:
    ledger = Ledger.in_workspace(tmp_path)
    searcher = _searcher(fake_collection, ledger, budget=Budget(2, None, 0.0))
    with pytest.raises(BudgetExhausted):
        searcher.search_many(_images("a", "b", "c"))
    assert fake_collection.searches == 0  # nothing sent when it cannot all be paid
    searcher.search_many(_images("a", "b"))
    with pytest.raises(BudgetExhausted):
        searcher.search_many(_images("c"))
    assert searcher.budget.spent_queries == 2 == fake_collection.searches


def test_throttling_is_retried_by_the_one_policy(tmp_path, fake_collection) -> None:
    fake_collection.fail_next = 2
    searcher = _searcher(fake_collection, Ledger.in_workspace(tmp_path))
    (outcome,) = searcher.search_many(_images("a"))
    assert isinstance(outcome, FaceSearch)
    assert (searcher.counts.billed, searcher.counts.attempts) == (1, 3)


def test_searches_sent_without_a_usable_reply_are_paid_for(tmp_path, fake_collection) -> None:
    # Refused (throttled): not billed. Sent and the reply lost, or answered unusably:
    # Rekognition billed them, so the budget counts them and a retry reserves again.
    fake_collection.fail_next, fake_collection.lose_next = 1, 2
    searcher = _searcher(
        fake_collection, Ledger.in_workspace(tmp_path), budget=Budget(None, None, 0.001)
    )
    (outcome,) = searcher.search_many(_images("a"))
    assert isinstance(outcome, FaceSearch)
    assert (searcher.counts.billed, searcher.counts.unanswered) == (1, 2)
    assert searcher.budget.spent_queries == 3
    assert searcher.counts.cost_usd == pytest.approx(0.003)
    fake_collection.garble_next = 1
    with pytest.raises(BadReplyError):
        searcher.search_many(_images("b"))
    assert searcher.budget.spent_queries == 4


def test_retries_after_lost_replies_stay_within_the_budget(tmp_path, fake_collection) -> None:
    fake_collection.lose_next = 5
    searcher = _searcher(
        fake_collection, Ledger.in_workspace(tmp_path), budget=Budget(3, None, 0.0)
    )
    with pytest.raises(BudgetExhausted):
        searcher.search_many(_images("a"))
    assert fake_collection.searches == 3 == searcher.budget.spent_queries


def test_a_changed_collection_stops_the_search(tmp_path, fake_collection) -> None:
    ledger = Ledger.in_workspace(tmp_path)
    searcher = _searcher(fake_collection, ledger)
    fake_collection.enroll(_images("someone new"), ["x"])  # the face count changes
    with pytest.raises(ModelChangedError, match="changed during the audit") as caught:
        searcher.search_many(_images("a"))
    assert caught.value.answered == fake_collection.model_identity()
    # The reply was kept under the state that gave it: an audit pinned to it reuses it.
    pinned_now = _searcher(fake_collection, ledger)
    pinned_now.search_many(_images("a"))
    assert pinned_now.counts.cached == 1 and fake_collection.searches == 1


def test_a_live_search_goes_on_across_face_count_changes_but_not_a_new_face_model(
    tmp_path, fake_collection
) -> None:
    ledger = Ledger.in_workspace(tmp_path)
    searcher = _searcher(fake_collection, ledger, live=True)
    searcher.search_many(_images("a"))
    fake_collection.enroll(_images("someone new"), ["x"])  # the face count changes
    searcher.search_many(_images("b"))
    assert len(searcher.states) == 2 and fake_collection.searches == 2
    # Keyed without the face count: a rerun on the grown collection pays for nothing.
    rerun = _searcher(fake_collection, ledger, live=True)
    rerun.search_many(_images("a", "b"))
    assert rerun.counts.cached == 2 and len(rerun.states) == 2
    fake_collection.version = "v2"  # a new face model: replies are not comparable
    with pytest.raises(ModelChangedError):
        searcher.search_many(_images("c"))


def test_a_damaged_stored_reply_is_a_typed_error_naming_the_ledger(tmp_path, fake_collection):
    import sqlite3

    from audit.faces.codec import LedgerReplyError

    ledger = Ledger.in_workspace(tmp_path)
    _searcher(fake_collection, ledger).search_many(_images("a"))
    ledger.close()
    with sqlite3.connect(tmp_path / "ledger.sqlite") as db:
        db.execute("UPDATE queries SET reply = ?", ('{"outcome": "matches"}',))
    with pytest.raises(LedgerReplyError, match="damaged face-search reply"):
        _searcher(fake_collection, Ledger.in_workspace(tmp_path)).search_many(_images("a"))
