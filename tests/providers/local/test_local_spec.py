"""Building the local provider from --target and --provider-option."""

from __future__ import annotations

import pytest

from providers.errors import ProviderOptionError
from providers.local.client import LocalClassifier
from providers.registry import build
from providers.spec import BuildContext

URL = "http://127.0.0.1:9"  # never contacted: building sends nothing


def test_timeout_and_deadline_reach_the_client() -> None:
    client = build("local", BuildContext(URL, {"timeout": "2", "deadline": "5"}))
    assert isinstance(client, LocalClassifier)
    assert (client.timeout_s, client.deadline_s) == (2.0, 5.0)
    default = build("local", BuildContext(URL))
    assert isinstance(default, LocalClassifier)
    assert (default.timeout_s, default.deadline_s) == (30.0, 120.0)


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"timeout": "0"}, "timeout"),  # not silently the default
        ({"timeout": "soon"}, "timeout"),
        ({"deadline": "-1"}, "deadline"),
        ({"deadlne": "5"}, "deadlne"),
    ],
)
def test_bad_settings_are_refused_by_name(options: dict[str, str], named: str) -> None:
    with pytest.raises(ProviderOptionError, match=named):
        build("local", BuildContext(URL, options))
