"""Where and as whom the Vertex AI SDK talks: project, region, endpoint, transport, credentials.

``aiplatform.init`` sets process-global state, and the SDK's clients copy it when they
are built. ``VertexConnection.session()`` holds a lock while it calls ``init`` so that
two connections in one process (a real region and a local fake, say) never build a
client with the other's settings.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType

from providers.errors import MissingExtraError, PermanentError, ProviderOptionError

_INIT_LOCK = threading.RLock()
_CLOUD_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
_RESOURCE = re.compile(r"^projects/(?P<project>[^/]+)/locations/(?P<location>[^/]+)/")
TRANSPORTS = ("rest", "grpc")


def import_aiplatform() -> ModuleType:
    """The ``google.cloud.aiplatform`` module, or ``MissingExtraError`` naming the extra."""
    try:
        from google.cloud import aiplatform
    except ImportError as exc:
        raise MissingExtraError("vertex", "vertex") from exc
    return aiplatform


@dataclass(frozen=True)
class VertexConnection:
    """Settings for one Vertex AI API.

    ``api_endpoint`` None means Google's regional endpoint. A plain ``http://`` endpoint
    (a private or local server) gets anonymous credentials, since a bearer token must
    never travel unencrypted; every other endpoint uses Application Default Credentials.
    """

    project: str | None = None
    location: str = "us-central1"
    api_endpoint: str | None = None
    transport: str | None = None

    def __post_init__(self) -> None:
        if self.transport is not None and self.transport not in TRANSPORTS:
            raise ProviderOptionError(
                f"transport must be one of {TRANSPORTS}, got {self.transport!r}"
            )
        if self.insecure and self.transport == "grpc":
            raise ProviderOptionError(
                f"an http:// api endpoint needs --transport rest: {self.api_endpoint}"
            )

    @property
    def insecure(self) -> bool:
        """True for a plain-HTTP endpoint (anonymous, REST only)."""
        return bool(self.api_endpoint and self.api_endpoint.startswith("http://"))

    def for_resource(self, resource_name: str) -> VertexConnection:
        """This connection with project and location taken from a full resource name."""
        match = _RESOURCE.match(resource_name)
        if not match:
            return self
        return VertexConnection(
            project=match["project"],
            location=match["location"],
            api_endpoint=self.api_endpoint,
            transport=self.transport,
        )

    def credentials(self, *, operation: str) -> object:
        """Anonymous for plain HTTP, else Application Default Credentials (never printed)."""
        if self.insecure:
            from google.auth.credentials import AnonymousCredentials

            return AnonymousCredentials()
        import google.auth
        from google.auth.exceptions import DefaultCredentialsError

        try:
            credentials, _ = google.auth.default(scopes=[_CLOUD_SCOPE])
        except DefaultCredentialsError as exc:
            raise PermanentError(
                "no Application Default Credentials found; run "
                "`gcloud auth application-default login` or set GOOGLE_APPLICATION_CREDENTIALS",
                provider="vertex",
                operation=operation,
            ) from exc
        return credentials

    @contextmanager
    def session(self, *, operation: str) -> Iterator[ModuleType]:
        """``aiplatform`` initialised for this connection; build SDK objects inside it."""
        aiplatform = import_aiplatform()
        credentials = self.credentials(operation=operation)
        transport = "rest" if self.insecure else self.transport
        with _INIT_LOCK:
            # ``init`` only overwrites what it is given: start from the defaults so a
            # previous connection's api_endpoint cannot leak into this one.
            aiplatform.initializer.global_config.__init__()
            aiplatform.init(
                project=self.project,
                location=self.location,
                api_endpoint=self.api_endpoint,
                api_transport=transport,
                credentials=credentials,
            )
            yield aiplatform
