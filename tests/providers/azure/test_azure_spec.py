"""The registry entry: what it declares and how it builds a tagger from a target and options."""

from __future__ import annotations

import pytest

from providers.azure.spec import SPEC
from providers.classifier import Classifier
from providers.errors import ProviderOptionError
from providers.spec import BuildContext, ProviderKind


def test_the_entry_declares_the_service():
    assert SPEC.name == "azure" and SPEC.kind is ProviderKind.CLASSIFIER and SPEC.extra == "azure"
    price = SPEC.price("query")
    assert price is not None and price.usd == pytest.approx(0.001)
    assert "1,000" in price.source
    assert SPEC.rate.per_s == 20.0 and 1 <= SPEC.rate.burst <= 20
    assert "20 per minute" in SPEC.options["rate"]  # how to select the F0 tier
    assert {"key-env", "model-version", "language"} <= set(SPEC.options)
    assert "cognitiveservices.azure.com" in SPEC.target_help


def test_build_gives_a_tagger_with_the_options(service, key_env):
    ctx = BuildContext(
        target=service.url,
        options={"model-version": "2023-10-01", "timeout": "5", "concurrency": "8"},
    )
    tagger = SPEC.build(ctx)
    assert isinstance(tagger, Classifier)
    assert tagger.target == service.url and tagger.max_concurrency == 8
    assert tagger.parameters["model_version"] == "2023-10-01"
    assert tagger.timeout == 5.0
    tagger.close()


def test_the_endpoint_can_come_from_vision_endpoint(service, key_env, monkeypatch):
    monkeypatch.setenv("VISION_ENDPOINT", service.url + "/")
    tagger = SPEC.build(BuildContext())
    assert tagger.target == service.url
    tagger.close()


def test_no_endpoint_at_all_says_where_to_give_one(monkeypatch):
    monkeypatch.delenv("VISION_ENDPOINT", raising=False)
    with pytest.raises(ProviderOptionError, match="--target https://NAME"):
        SPEC.build(BuildContext())


@pytest.mark.parametrize(
    ("options", "problem"),
    [
        ({"timeout": "soon"}, "timeout='soon' is not a number"),
        ({"timeout": "0"}, "timeout='0' must be > 0"),
        ({"concurrency": "2.5"}, "whole number"),
        ({"language": " en"}, "language"),
    ],
)
def test_bad_options_are_option_errors(service, key_env, options, problem):
    with pytest.raises(ProviderOptionError, match=problem):
        SPEC.build(BuildContext(target=service.url, options=options))


def test_a_bad_target_is_an_option_error_without_its_user_info(key_env):
    with pytest.raises(ProviderOptionError, match="unencrypted") as caught:
        SPEC.build(BuildContext(target="http://me:pa55word@vision.example.com"))
    assert "pa55word" not in str(caught.value)
