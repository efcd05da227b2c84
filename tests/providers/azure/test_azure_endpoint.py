"""The endpoint: normalised, user info dropped, plain http only to this machine."""

from __future__ import annotations

import pytest

from providers.azure.endpoint import normalize_endpoint


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("https://Name.CognitiveServices.Azure.com/", "https://name.cognitiveservices.azure.com"),
        ("  https://name.cognitiveservices.azure.com  ", "https://name.cognitiveservices.azure.com"),
        ("https://user:secret@name.cognitiveservices.azure.com", "https://name.cognitiveservices.azure.com"),
        ("https://gateway.example.com:8443/vision/", "https://gateway.example.com:8443/vision"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("http://localhost:5000/", "http://localhost:5000"),
        ("http://[::1]:5000", "http://[::1]:5000"),
        ("http://127.5.6.7", "http://127.5.6.7"),
    ],
)  # fmt: skip
def test_endpoints_are_normalised(given, expected):
    assert normalize_endpoint(given) == expected


@pytest.mark.parametrize(
    ("given", "problem"),
    [
        ("name.cognitiveservices.azure.com", "https:// URL"),
        ("ftp://name.example.com", "https:// URL"),
        ("https://", "https:// URL"),
        ("http://name.cognitiveservices.azure.com", "unencrypted"),
        ("http://user:secret@10.0.0.5:5000", "unencrypted"),
        ("https://name.cognitiveservices.azure.com/?key=abc", "query"),
        ("https://name.cognitiveservices.azure.com:99999", "not a URL"),
    ],
)
def test_bad_endpoints_say_why_without_repeating_user_info(given, problem):
    with pytest.raises(ValueError, match=problem) as caught:
        normalize_endpoint(given)
    assert "secret" not in str(caught.value) and "user" not in str(caught.value)
