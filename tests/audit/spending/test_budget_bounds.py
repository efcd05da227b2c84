"""Budgets and prices: absurd numbers are refused by name, never an OverflowError."""

from __future__ import annotations

import math

import pytest

from audit.errors import AuditInputError
from audit.spending.budget import Budget
from audit.spending.prices import price_per_query


@pytest.mark.parametrize(
    ("queries", "usd", "price", "option"),
    [
        (None, math.inf, 0.001, "--budget-usd"),
        (None, math.nan, 0.001, "--budget-usd"),
        (None, 1e300, 0.001, "--budget-usd"),
        (None, 5.0, math.inf, "price per query"),
        (10**13, None, 0.0, "--budget-queries"),
        (-1, None, 0.0, "--budget-queries"),
    ],
)
def test_absurd_budgets_are_refused_by_name(queries, usd, price, option) -> None:
    with pytest.raises(AuditInputError, match=option):
        Budget(queries, usd, price)


def test_a_tiny_price_is_refused_not_an_overflow() -> None:
    with pytest.raises(AuditInputError, match="--price-per-query"):
        price_per_query("mock", override=1e-320)
    budget = Budget(None, 5.0, 1e-9)  # the smallest price taken: five billion queries
    assert budget.capacity() == 5_000_000_000
    budget.reserve(3)
    assert budget.remaining() == 4_999_999_997


def test_capacity_never_overflows_for_any_accepted_numbers() -> None:
    assert Budget(None, 1e9, 1e-9).capacity() == 10**18
    assert Budget(10**12, 1e9, 1e-9).capacity() == 10**12
