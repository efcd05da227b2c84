"""The score-level simulator: shapes, caching, budget, rank output."""

from __future__ import annotations

import numpy as np
import pytest

from audit.errors import BudgetExhausted
from audit.queries.oracle import CLEAN, TRUE_MARK


def test_shape_determinism_and_query_count(make_oracle) -> None:
    oracle = make_oracle()
    scores = oracle.query([TRUE_MARK, 1, CLEAN], [0, 5, 7])
    assert scores.shape == (3, 3, 10)
    assert np.allclose(np.exp(scores).sum(axis=2), 1.0)
    assert oracle.queries_used() == 9
    again = oracle.query([TRUE_MARK], [5])
    assert np.array_equal(again[0, 0], scores[0, 1])
    assert oracle.queries_used() == 9  # repeated pairs are not billed twice
    assert np.array_equal(make_oracle().query([1], [0]), oracle.query([1], [0]))


def test_budget_is_enforced_before_spending(make_oracle) -> None:
    oracle = make_oracle(max_queries=10)
    oracle.query([0, 1], range(5))
    with pytest.raises(BudgetExhausted):
        oracle.query([2], [0])
    assert oracle.queries_used() == 10


def test_neg_rank_top_k(make_oracle) -> None:
    oracle = make_oracle(statistic="neg_rank", top_k=3)
    ranks = -oracle.query([1], range(40))[0]
    assert set(np.unique(ranks)) <= {1.0, 2.0, 3.0, 4.0}
    assert np.all(np.sort(ranks, axis=1)[:, :3] == [1, 2, 3])


def test_bad_indices_and_labels(make_oracle) -> None:
    with pytest.raises(ValueError, match="outside"):
        make_oracle().query([99], [0])
    with pytest.raises(ValueError, match="image index"):
        make_oracle().query([0], [40])
    with pytest.raises(ValueError, match="not one of"):
        make_oracle(label="cat")
