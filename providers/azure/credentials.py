"""Who the Azure adapter authenticates as: a key from the environment, else Microsoft Entra ID.

The key is held only inside the credential object the SDK reads and in ``AzureAuth``'s
private field used to scrub it from error text; it is never part of a repr, a log
record or a message.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from providers.errors import ProviderConfigError

KEY_ENV = "VISION_KEY"
"""The environment variable the SDK's samples read the resource key from."""
ENTRA_SCOPE = "https://cognitiveservices.azure.com/.default"
_REDACTED = "[REDACTED]"


@dataclass(frozen=True)
class AzureAuth:
    """The credential to give the SDK, where it came from, and what to check when refused.

    ``credential`` is an ``AzureKeyCredential`` or an Entra ID token credential.
    ``source`` names where it came from (``$VISION_KEY``, Microsoft Entra ID...);
    ``key_env`` is the variable a key is (or would be) read from.
    """

    credential: object = field(repr=False)
    source: str
    uses_key: bool
    key_env: str = KEY_ENV
    _secret: str | None = field(default=None, repr=False, compare=False)

    def redact(self, text: str) -> str:
        """``text`` with the key, if any, replaced by ``[REDACTED]``."""
        if self._secret and self._secret in text:
            return text.replace(self._secret, _REDACTED)
        return text

    def leaks(self, text: str) -> bool:
        """Whether ``text`` contains the key."""
        return self._secret is not None and self._secret != "" and self._secret in text

    def advice(self) -> str:
        """What to check when the service refuses this credential."""
        if self.uses_key:
            return (
                f"{self.source} holds KEY 1 or KEY 2 of this Azure AI Vision resource "
                "(Azure portal, the resource's Keys and Endpoint page)"
            )
        return (
            "your Microsoft Entra ID identity has the Cognitive Services User role on the "
            "resource and the endpoint is the resource's custom subdomain"
        )


def key_auth(key: str, *, source: str, key_env: str = KEY_ENV) -> AzureAuth:
    """An ``AzureKeyCredential`` for ``key``; ``source`` says where it came from."""
    from azure.core.credentials import AzureKeyCredential

    return AzureAuth(AzureKeyCredential(key), source, uses_key=True, key_env=key_env, _secret=key)


def given_auth(credential: object) -> AzureAuth:
    """Wrap a credential built by the caller (a key credential or a token credential)."""
    key = getattr(credential, "key", None)
    if isinstance(key, str):
        return AzureAuth(credential, "the given key", uses_key=True, _secret=key)
    if not hasattr(credential, "get_token"):
        raise TypeError(
            "credential must be an azure.core.credentials.AzureKeyCredential or a token "
            f"credential, got {type(credential).__name__}"
        )
    return AzureAuth(credential, "the given token credential", uses_key=False)


def resolve_auth(
    endpoint: str,
    *,
    key_env: str = KEY_ENV,
    environ: Mapping[str, str] | None = None,
    operation: str,
) -> AzureAuth:
    """The key in ``$key_env`` if set, else ``DefaultAzureCredential`` (azure-identity).

    Raises ``ProviderConfigError`` naming ``operation`` when neither is usable: no key and no
    azure-identity, or no key for a plain-http endpoint (Entra ID tokens travel over
    https only).
    """
    env = os.environ if environ is None else environ
    key = env.get(key_env, "").strip()
    if key:
        return key_auth(key, source=f"${key_env}", key_env=key_env)
    if endpoint.startswith("http://"):
        raise ProviderConfigError(
            f"{operation}: no key in ${key_env}: a plain-http endpoint needs a key "
            f"(Microsoft Entra ID tokens are sent over https only); set {key_env}"
        )
    try:
        from azure.identity import DefaultAzureCredential
    except ImportError:
        raise ProviderConfigError(
            f"{operation}: no key in ${key_env} and azure-identity is not installed for "
            f"Microsoft Entra ID sign-in; set {key_env} to the resource's key, or pip "
            "install azure-identity"
        ) from None
    return AzureAuth(
        DefaultAzureCredential(),
        "Microsoft Entra ID (DefaultAzureCredential)",
        uses_key=False,
        key_env=key_env,
    )
