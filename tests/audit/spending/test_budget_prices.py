"""Budgets in queries and dollars; the price table and its overrides."""

from __future__ import annotations

import threading

import pytest

from audit.errors import BudgetExhausted
from audit.spending.budget import Budget
from audit.spending.prices import PriceError, load_price_file, price, price_per_query
from providers import registry


def test_reserve_is_all_or_nothing_and_refund_gives_back():
    budget = Budget(10, None, 0.0)
    budget.reserve(7)
    with pytest.raises(BudgetExhausted, match="budget spent: 7 of 10 queries used, 4 more"):
        budget.reserve(4)
    assert budget.spent_queries == 7 and budget.remaining() == 3
    budget.refund(2)
    budget.reserve(5)
    assert budget.remaining() == 0


def test_money_limit_in_queries():
    budget = Budget(None, 0.01, 0.001)
    assert budget.capacity() == 10  # not 9: float rounding of 0.01 / 0.001
    budget.reserve(10)
    assert budget.spent_usd == pytest.approx(0.01)
    with pytest.raises(BudgetExhausted):
        budget.reserve(1)
    assert Budget(5, 1.0, 0.001).capacity() == 5
    assert Budget(None, 1.0, 0.0).capacity() is None
    assert Budget.unlimited().remaining() is None


def test_concurrent_reservations_never_exceed_the_budget():
    budget = Budget(100, None, 0.0)
    granted = []
    lock = threading.Lock()

    def worker() -> None:
        for _ in range(50):
            try:
                budget.reserve(3)
            except BudgetExhausted:
                continue
            with lock:
                granted.append(3)

    threads = [threading.Thread(target=worker) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sum(granted) == 99 == budget.spent_queries


def test_bad_budgets_are_refused():
    for args in ((-1, None, 0.0), (None, -1.0, 0.0), (None, None, -0.1)):
        with pytest.raises(ValueError):
            Budget(*args)


def test_price_table_and_overrides(tmp_path, monkeypatch):
    monkeypatch.delenv("ISOTOPE_PRICES", raising=False)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    assert price_per_query("mock") == 0.0 == price_per_query("local")
    assert price_per_query("vertex") == pytest.approx(1.375 / 3600)
    assert price("vertex") == registry.get("vertex").price("query").usd  # type: ignore[union-attr]
    assert price_per_query("vertex", override=0.5) == 0.5
    prices = tmp_path / "prices.toml"
    prices.write_text("[prices]\nvertex = 0.002\n")
    assert price_per_query("vertex", prices_file=prices) == 0.002
    assert price_per_query("local", prices_file=prices) == 0.0  # not in the file: table
    prices.write_text("[prices]\nvertex = 0.002\n[prices.mock]\nsearch = 0.5\n")
    assert price("mock", "search", prices_file=prices) == 0.5
    monkeypatch.setenv("ISOTOPE_PRICES", str(prices))
    assert price_per_query("vertex") == 0.002


def test_bad_price_input_names_the_problem(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[prices]\nvertex = 'cheap'\n")
    with pytest.raises(PriceError, match=r"prices\.vertex must be a number"):
        load_price_file(bad)
    bad.write_text("vertex = 0.1\n")
    with pytest.raises(PriceError, match="no \\[prices\\] table"):
        load_price_file(bad)
    bad.write_text("[prices\n")
    with pytest.raises(PriceError, match="not readable TOML"):
        load_price_file(bad)
    with pytest.raises(PriceError, match="does not exist"):
        load_price_file(tmp_path / "missing.toml")
    with pytest.raises(PriceError, match="no price known for query on provider 'acme'"):
        price_per_query("acme")
    with pytest.raises(PriceError):
        price_per_query("mock", override=-1.0)
