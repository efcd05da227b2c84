"""Credentials: VISION_KEY, another variable, Entra ID; refusals; the key never shown."""

from __future__ import annotations

import logging
import secrets
import sys
import traceback

import numpy as np
import pytest

from providers.errors import PermanentError, ProviderConfigError, TransientError


def _everything_said(exc: BaseException) -> str:
    """The exception as a traceback would print it, causes included, plus its repr."""
    return "".join(traceback.format_exception(exc)) + repr(exc)


def test_the_key_comes_from_vision_key(make_tagger, fake, query, key_env):
    tagger = make_tagger()
    before = len(fake.served)
    tagger.classify([query("sky")])
    assert fake.served[before].key_ok
    assert "$VISION_KEY" in repr(tagger)
    assert key_env not in repr(tagger)


def test_another_variable_can_hold_the_key(service, fake, query, key_env, monkeypatch):
    from providers.azure.tagger import AzureTagger

    monkeypatch.delenv("VISION_KEY")
    monkeypatch.setenv("MY_VISION_KEY", key_env)
    with AzureTagger(service.url, key_env="MY_VISION_KEY") as tagger:
        [scores] = tagger.classify([query("grass")])
    assert "grass" in scores.values


def test_no_key_for_a_local_endpoint_is_a_setup_error(service, monkeypatch):
    from providers.azure.tagger import AzureTagger

    monkeypatch.delenv("VISION_KEY", raising=False)
    with pytest.raises(ProviderConfigError, match=r"no key in \$VISION_KEY.*set VISION_KEY"):
        AzureTagger(service.url)


def test_no_key_for_a_cloud_endpoint_signs_in_with_entra_id(monkeypatch):
    from azure.identity import DefaultAzureCredential

    from providers.azure.credentials import resolve_auth

    monkeypatch.delenv("VISION_KEY", raising=False)
    auth = resolve_auth("https://name.cognitiveservices.azure.com", operation="azure connect")
    assert isinstance(auth.credential, DefaultAzureCredential)
    assert not auth.uses_key
    assert "Entra" in auth.source and "Cognitive Services User" in auth.advice()


def test_no_key_and_no_azure_identity_says_what_to_do(monkeypatch):
    from providers.azure.tagger import AzureTagger

    monkeypatch.delenv("VISION_KEY", raising=False)
    monkeypatch.setitem(sys.modules, "azure.identity", None)
    with pytest.raises(ProviderConfigError, match="pip install azure-identity"):
        AzureTagger("https://name.cognitiveservices.azure.com")


def test_an_entra_id_failure_is_permanent_and_sends_nothing():
    from azure.core.exceptions import ClientAuthenticationError

    from providers.azure.tagger import AzureTagger
    from providers.query import QueryImage

    class NoIdentity:
        def get_token(self, *scopes: str, **kwargs: object) -> object:
            raise ClientAuthenticationError("DefaultAzureCredential failed to retrieve a token")

    # Port 1 on loopback: nothing listens, and the token fails before any connection.
    with AzureTagger("https://127.0.0.1:1", credential=NoIdentity()) as tagger:
        image = QueryImage.from_array(np.zeros((60, 60, 3), np.uint8))
        with pytest.raises(PermanentError, match="no Microsoft Entra ID token") as caught:
            tagger.classify([image])
    assert not isinstance(caught.value, TransientError)


def test_a_wrong_key_is_permanent_says_what_to_check_and_is_never_shown(
    service, fake, query, monkeypatch, caplog
):
    from providers.azure.tagger import AzureTagger

    wrong = f"wrong-key-{secrets.token_hex(8)}"
    monkeypatch.setenv("VISION_KEY", wrong)
    fake.echo_key = True  # the service even quotes the key back: we must not repeat it
    caplog.set_level(logging.DEBUG)
    with AzureTagger(service.url) as tagger, pytest.raises(PermanentError) as caught:
        tagger.classify([query("sky")])
    error = caught.value
    assert not isinstance(error, TransientError)
    message = str(error)
    assert message.startswith(f"azure analyze {service.url}: ")
    assert "HTTP 401" in message and "$VISION_KEY" in message and "Keys and Endpoint" in message
    assert "[REDACTED]" in message  # the echoed key, scrubbed
    assert wrong not in _everything_said(error)
    assert all(wrong not in record.getMessage() for record in caplog.records)


def test_the_key_is_in_no_log_record_or_error(make_tagger, fake, query, key_env, caplog):
    from fixtures.fake_azure.faults import FAULT_KINDS, FaultPlan
    from providers.errors import ProviderError

    caplog.set_level(logging.DEBUG)
    tagger = make_tagger(timeout=0.3)
    tagger.classify([query("sky")])
    errors: list[BaseException] = []
    for kind in FAULT_KINDS:
        fake.faults = FaultPlan(rate=1.0, kinds=(kind,), slow_s=0.6)
        with pytest.raises(ProviderError) as caught:
            tagger.classify([query("sky")])
        errors.append(caught.value)
    assert all(key_env not in _everything_said(error) for error in errors)
    said = [record.getMessage() for record in caplog.records]
    # azure-core logged the request headers (so the check below is not vacuous) ...
    assert any("Ocp-Apim-Subscription-Key" in line for line in said)
    # ... with the key's value redacted.
    assert all(key_env not in line for line in said)


def test_the_redaction_covers_every_translated_message():
    from azure.core.exceptions import HttpResponseError, ServiceResponseError

    from providers.azure.credentials import key_auth
    from providers.azure.errors import ErrorTranslator

    key = f"k-{secrets.token_hex(8)}"
    translator = ErrorTranslator(
        "https://x.cognitiveservices.azure.com", key_auth(key, source="$K"), "v"
    )
    for exc in (
        ServiceResponseError(f"connection reset while sending {key}"),
        HttpResponseError(message=f"cut off after {key}"),
    ):
        out = translator.translate(exc, operation="azure analyze")
        assert key not in str(out) and "[REDACTED]" in str(out)


def test_given_credentials_must_be_credentials():
    from providers.azure.credentials import given_auth

    with pytest.raises(TypeError, match="AzureKeyCredential"):
        given_auth("a bare string key")
