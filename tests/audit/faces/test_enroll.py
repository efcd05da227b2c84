"""Enrollment: idempotent, resumable, priced first, within budget, duplicates removed."""

from __future__ import annotations

import pytest

from audit.errors import BudgetTooSmallError
from audit.faces.enroll import Enroller, EnrollItem
from audit.spending.budget import Budget
from audit.spending.ledger import Ledger
from providers.query import QueryImage
from providers.retry import RetryPolicy


def _items(*names: str) -> list[EnrollItem]:
    return [EnrollItem(n, lambda n=n: QueryImage(n.encode(), "image/png")) for n in names]


def _enroller(collection, tmp_path, **options) -> Enroller:
    options.setdefault("retry", RetryPolicy(sleep=lambda _s: None))
    return Enroller(collection, Ledger.in_workspace(tmp_path), **options)


def test_enrolling_twice_sends_nothing_the_second_time(tmp_path, fake_collection) -> None:
    enroller = _enroller(fake_collection, tmp_path, budget=Budget(None, None, 0.001))
    plan = enroller.plan(_items("a", "b", "noface-c"))
    assert plan.to_json()["to_send"] == 3 and plan.cost_usd == pytest.approx(0.003)
    report = enroller.run(plan)
    assert report.indexed == 2 and report.not_indexed == {"noface-c": ["NO_FACE"]}
    assert report.counts.billed == 3 and fake_collection.indexed == 3
    again = _enroller(fake_collection, tmp_path).plan(_items("a", "b", "noface-c", "d"))
    # Present faces are skipped, and so is the image the service already refused.
    assert (again.present, again.refused_before, [i.external_id for i in again.to_send]) == (
        2,
        1,
        ["d"],
    )


def test_a_lost_reply_indexes_twice_and_the_duplicate_is_removed(tmp_path, fake_collection) -> None:
    fake_collection.drop_reply_next = 1
    enroller = _enroller(fake_collection, tmp_path, budget=Budget(None, None, 0.001))
    report = enroller.run(enroller.plan(_items("a", "b")))
    assert fake_collection.indexed == 3 and report.duplicates_removed == 1
    assert sorted(external for external, _ in fake_collection.faces.values()) == ["a", "b"]
    # The lost reply may have been billed: counted as spent.
    assert report.counts.unanswered == 1 and report.counts.cost_usd == pytest.approx(0.003)


def test_budget_too_small_sends_nothing(tmp_path, fake_collection) -> None:
    enroller = _enroller(fake_collection, tmp_path, budget=Budget(2, None, 0.001))
    with pytest.raises(BudgetTooSmallError, match="pays for 2"):
        enroller.run(enroller.plan(_items("a", "b", "c")))
    assert fake_collection.indexed == 0
