"""``AzureTagger``: Azure AI Vision Image Analysis tags behind the ``Classifier`` protocol.

One image per call (the service's rule), several calls in flight (``max_concurrency``);
the caller's rate limiter and retry policy (the ledger's) pace and repeat them, so the
SDK's own retries and redirects are switched off: retries stacked on ours would
multiply attempts and hide 429s from the rate limiter, and a redirect would carry the
key to another host. Each call has a connection and a read timeout (the SDK sets none
by default that an audit would want), and an overall deadline that azure-core has no
setting for (``providers.http.deadline``): a reply trickling in a byte at a time ends
at the deadline as ``UnansweredError``, which the budget counts as spent, since the
service bills a reply whether or not the client waited for it.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from types import ModuleType, TracebackType
from typing import Any

from providers.azure.credentials import KEY_ENV, AzureAuth, given_auth, resolve_auth
from providers.azure.endpoint import normalize_endpoint
from providers.azure.errors import ErrorTranslator
from providers.azure.image_fit import LIMITS, ImageLimits, UnusableImageError, fit_image
from providers.azure.reply import MalformedReplyError, parse_tags
from providers.azure.sdk import PROVIDER, require_sdk
from providers.errors import BadImageError, BadReplyError
from providers.http.deadline import (
    DeadlineAdapter,
    call_deadline,
    default_deadline,
    mount_deadline,
    note_deadline,
)
from providers.query import QueryImage
from providers.scores import Scores

DEFAULT_API_VERSION = "2023-10-01"
DEFAULT_CONCURRENCY = 16


class AzureTagger:
    """Tag images with an Azure AI Vision resource; scores are the tags' confidences.

    ``endpoint`` is the resource's URL (``https://NAME.cognitiveservices.azure.com``;
    ``http://127.0.0.1:PORT`` for a local server); user info in it is dropped. The
    credential is ``credential`` if given (an ``AzureKeyCredential`` or a token
    credential), else the key in ``$key_env`` (``VISION_KEY``), else Microsoft Entra ID
    through azure-identity's ``DefaultAzureCredential``. ``language`` and
    ``model_version`` (``latest``, or a date such as ``2023-10-01`` to pin the model)
    are sent with every call. ``timeout`` bounds connecting and, separately, each wait
    for the reply's bytes, in seconds; ``deadline_s`` (default four times ``timeout``)
    bounds each whole call. ``threshold`` is the service's tag cut-off if you know
    it (the service does not say); it is recorded in every ``Scores``.

    Raises ``MissingExtraError`` without the SDK, ``ValueError`` for a bad endpoint or
    setting, and ``ProviderConfigError`` when no credential can be found.
    """

    provider = PROVIDER
    max_batch = 1  # the service analyzes one image per call

    def __init__(
        self,
        endpoint: str,
        *,
        credential: object | None = None,
        key_env: str = KEY_ENV,
        environ: Mapping[str, str] | None = None,
        language: str = "en",
        model_version: str = "latest",
        api_version: str = DEFAULT_API_VERSION,
        timeout: float = 30.0,
        deadline_s: float | None = None,
        max_concurrency: int = DEFAULT_CONCURRENCY,
        threshold: float | None = None,
        limits: ImageLimits = LIMITS,
    ) -> None:
        if not (math.isfinite(timeout) and timeout > 0):
            raise ValueError(f"timeout must be positive, got {timeout}")
        deadline = default_deadline(timeout) if deadline_s is None else float(deadline_s)
        if not (math.isfinite(deadline) and deadline >= timeout):
            raise ValueError(
                f"deadline must be a number of seconds at least the timeout ({timeout:g}), "
                f"got {deadline_s}"
            )
        if max_concurrency < 1:
            raise ValueError(f"max_concurrency must be at least 1, got {max_concurrency}")
        if threshold is not None and not 0.0 <= threshold <= 1.0:
            raise ValueError(f"threshold must be in [0, 1], got {threshold}")
        for name, value in (("language", language), ("model_version", model_version),
                            ("api_version", api_version)):  # fmt: skip
            if not value or not value.strip() or value != value.strip():
                raise ValueError(f"{name} must be a non-empty word, got {value!r}")
        self.target = normalize_endpoint(endpoint)
        sdk = require_sdk()
        operation = f"azure connect {self.target}"
        self._auth: AzureAuth = (
            given_auth(credential)
            if credential is not None
            else resolve_auth(self.target, key_env=key_env, environ=environ, operation=operation)
        )
        self.language = language
        self.model_version = model_version
        self.api_version = api_version
        self.timeout = float(timeout)
        self.deadline_s = deadline
        self.max_concurrency = max_concurrency
        self.threshold = threshold
        self.limits = limits
        # A credential made here (Entra ID) is closed with the tagger; a given one is not.
        self._owns_credential = credential is None
        self._errors = ErrorTranslator(self.target, self._auth, api_version)
        self._features = [sdk.models.VisualFeatures.TAGS]
        self._client: Any = _build_client(
            sdk, self.target, self._auth, api_version, max_concurrency
        )

    def __repr__(self) -> str:
        return (
            f"AzureTagger(target={self.target!r}, credential={self._auth.source!r}, "
            f"parameters={dict(self.parameters)!r})"
        )

    @property
    def parameters(self) -> Mapping[str, object]:
        """What changes a reply: the feature asked for, language, model and API version."""
        return {
            "features": "tags",
            "language": self.language,
            "model_version": self.model_version,
            "api_version": self.api_version,
        }

    def labels(self) -> list[str] | None:
        """None: the tagger's vocabulary is open (thousands of tags, not listed)."""
        return None

    def model_identity(self) -> str | None:
        """None: the model's identity is learned from each reply's ``Scores.model``."""
        return None

    def classify(self, images: Sequence[QueryImage]) -> list[Scores]:
        """Tags of each image, one call per image in turn (concurrency is the caller's)."""
        return [self._analyze(image) for image in images]

    def _analyze(self, query: QueryImage) -> Scores:
        operation = f"azure analyze {self.target}"
        try:
            image = fit_image(query.data, self.limits)
        except UnusableImageError as exc:
            raise BadImageError(
                f"image sha256:{query.digest[:12]} cannot be sent: {exc}",
                provider=PROVIDER,
                operation=operation,
            ) from None
        from azure.core.exceptions import AzureError

        with call_deadline(self.deadline_s) as deadline:
            try:
                reply = self._client.analyze(
                    image_data=image.data,
                    visual_features=self._features,
                    language=self.language,
                    model_version=self.model_version,
                    connection_timeout=self.timeout,
                    read_timeout=self.timeout,
                )
            except (AzureError, json.JSONDecodeError) as exc:
                sent = f"image sha256:{query.digest[:12]}, sent as {image.describe()}"
                error = self._errors.translate(exc, operation=operation, image=sent)
                error = note_deadline(error, deadline, self.deadline_s)
                # Keep the SDK's exception as the cause unless its text would show the key.
                if self._auth.leaks(repr(exc)) or self._auth.leaks(str(exc)):
                    raise error from None
                raise error from exc
        try:
            return parse_tags(reply, threshold=self.threshold)
        except MalformedReplyError as exc:
            raise BadReplyError(
                self._auth.redact(str(exc)), provider=PROVIDER, operation=operation
            ) from None

    def close(self) -> None:
        """Close the client's connections (and a credential the tagger made)."""
        self._client.close()
        close_credential = getattr(self._auth.credential, "close", None)
        if self._owns_credential and callable(close_credential):
            close_credential()

    def __enter__(self) -> AzureTagger:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()


def _build_client(
    sdk: ModuleType, endpoint: str, auth: AzureAuth, api_version: str, connections: int
) -> Any:
    """An ``ImageAnalysisClient`` with no SDK retries or redirects, a pool of
    ``connections`` connections (requests' default of 10 would drop the extra ones) and
    connections that honour ``call_deadline``."""
    import requests
    from azure.core.pipeline.policies import RedirectPolicy, RetryPolicy
    from azure.core.pipeline.transport import RequestsTransport
    from urllib3.util.retry import Retry

    session = requests.Session()
    # As azure-core configures its own sessions: urllib3 retries nothing either.
    adapter = DeadlineAdapter(
        pool_connections=1,
        pool_maxsize=connections,
        max_retries=Retry(total=False, redirect=False, raise_on_status=False),
    )
    mount_deadline(session, adapter)
    return sdk.ImageAnalysisClient(
        endpoint,
        auth.credential,
        api_version=api_version,
        retry_policy=RetryPolicy.no_retries(),
        redirect_policy=RedirectPolicy.no_redirects(),
        transport=RequestsTransport(session=session, session_owner=True),
    )
