"""``Retry-After`` in every form a service sends it, for every adapter."""

from __future__ import annotations

import email.utils

import pytest
import requests

from providers.retry_after import retry_after_seconds


def test_delta_seconds_dates_and_junk() -> None:
    assert retry_after_seconds(None) is None
    assert retry_after_seconds({}) is None
    assert retry_after_seconds({"Retry-After": "2.5"}) == 2.5
    assert retry_after_seconds({"retry-after": "-3"}) == 0.0
    assert retry_after_seconds({"Retry-After": "soon"}) is None
    assert retry_after_seconds({"Retry-After": "nan"}) is None
    assert retry_after_seconds({"Retry-After": "inf"}) is None
    date = email.utils.formatdate(1_000_030, usegmt=True)
    assert retry_after_seconds({"Retry-After": date}, now=1_000_000) == pytest.approx(30.0)
    past = email.utils.formatdate(999_000, usegmt=True)
    assert retry_after_seconds({"Retry-After": past}, now=1_000_000) == 0.0


def test_azure_millisecond_headers_come_first() -> None:
    assert retry_after_seconds({"retry-after-ms": "1500", "Retry-After": "9"}) == 1.5
    assert retry_after_seconds({"x-ms-retry-after-ms": "250"}) == 0.25
    # An unreadable millisecond header falls back to Retry-After.
    assert retry_after_seconds({"retry-after-ms": "soon", "Retry-After": "4"}) == 4.0


def test_any_mapping_of_headers_in_any_case() -> None:
    headers = requests.structures.CaseInsensitiveDict({"RETRY-AFTER": "7"})
    assert retry_after_seconds(headers) == 7.0
    assert retry_after_seconds({"Retry-After": " 3 "}) == 3.0
