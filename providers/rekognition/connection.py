"""Where and as whom boto3 talks to Rekognition: region, endpoint, credentials, timeouts.

Credentials come only from the AWS standard chain (environment, shared profile, SSO,
instance or container role), except for a local engine, which is given fixed dummy
credentials so that no real key is ever signed for a server on this machine. botocore's
own retries are switched off (one attempt, standard mode) so that the project's
``providers.retry.RetryPolicy`` is the only retry layer; connect and read timeouts are
explicit. Nothing here prints or logs a credential.

What botocore can and cannot bound: ``connect_timeout`` and ``read_timeout`` (per
socket read) are its own settings; it has none for a whole call. The overall deadline
(``deadline_s``) comes from ``providers.http.deadline``: the client's connection pools
are swapped for deadline-aware ones (through botocore's ``URLLib3Session``, whose
``_pool_classes_by_scheme`` is not public API: with a botocore that lacks it,
``bind_deadline`` returns False and only the per-read timeout applies) and each call
runs inside ``call_deadline``. A 200 whose body is not JSON, which botocore
would parse into ``{"message": <body>}``, is flagged (``UNREADABLE``) so the adapter
can tell it from a reply.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from providers.errors import MissingExtraError, PermanentError
from providers.http.deadline import deadline_pool_classes, default_deadline
from providers.rekognition.errors import RegionError

SERVICE = "rekognition"
LOCAL_REGION = "us-east-1"  # what a local engine is signed for when no region is given
UNREADABLE = "IsotopeUnreadableBody"
"""Key set in a parsed reply whose HTTP 200 body was not a JSON object."""


def import_boto3(provider: str) -> ModuleType:
    """The ``boto3`` module, or ``MissingExtraError`` naming the ``aws`` extra."""
    try:
        import boto3
    except ImportError as exc:
        raise MissingExtraError(provider, "aws") from exc
    return boto3


def public_url(url: str) -> str:
    """``url`` without user name, password, query or fragment (safe to show and key on)."""
    parts = urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"  # an IPv6 literal
    netloc = f"{host}:{parts.port}" if parts.port is not None else host
    return urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))


def check_endpoint_url(url: str) -> str:
    """``url`` if it is an absolute http(s) URL; else ``ValueError`` saying why."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError(f"endpoint URL {public_url(url)!r} must be http:// or https://HOST[:PORT]")
    try:
        parts.port  # noqa: B018  (raises on a port that is not a number)
    except ValueError:
        raise ValueError(f"endpoint URL {public_url(url)!r} has a bad port") from None
    return url


@dataclass(frozen=True)
class RekognitionConnection:
    """Settings for one Rekognition API.

    ``endpoint_url`` None means AWS's regional endpoint, and then ``region`` (or the
    profile's or environment's region) must be one where Rekognition is offered.
    ``dummy_credentials`` is for local engines only. ``profile`` names a shared-config
    profile. Timeouts are in seconds.
    """

    region: str | None = None
    endpoint_url: str | None = None
    profile: str | None = None
    dummy_credentials: bool = False
    connect_timeout_s: float = 10.0
    read_timeout_s: float = 60.0
    deadline_s: float | None = None
    max_pool_connections: int = 10

    def __post_init__(self) -> None:
        if self.endpoint_url is not None:
            check_endpoint_url(self.endpoint_url)
        if self.connect_timeout_s <= 0 or self.read_timeout_s <= 0:
            raise ValueError("connect and read timeouts must be positive")
        if self.deadline_s is not None and not self.deadline_s >= self.read_timeout_s:
            raise ValueError(
                f"deadline must be at least the read timeout ({self.read_timeout_s:g} s), "
                f"got {self.deadline_s}"
            )

    @property
    def call_deadline_s(self) -> float:
        """Seconds a whole call may take (default four read timeouts)."""
        if self.deadline_s is not None:
            return self.deadline_s
        return default_deadline(self.read_timeout_s)
        if self.max_pool_connections < 1:
            raise ValueError("max_pool_connections must be at least 1")

    def client(self, *, provider: str, operation: str) -> Any:
        """A boto3 Rekognition client (thread-safe; build it once and share it).

        Building it sends nothing. Raises ``MissingExtraError`` without boto3,
        ``RegionError`` when no region is known or Rekognition is not offered in it, and
        ``PermanentError`` for a profile that cannot be used.
        """
        boto3 = import_boto3(provider)
        from botocore.config import Config
        from botocore.exceptions import BotoCoreError

        try:
            if self.dummy_credentials:
                session = boto3.session.Session(
                    aws_access_key_id="testing",
                    aws_secret_access_key="testing",
                    region_name=self.region or LOCAL_REGION,
                )
            else:
                session = boto3.session.Session(profile_name=self.profile, region_name=self.region)
        except BotoCoreError as exc:  # e.g. ProfileNotFound
            raise PermanentError(
                f"AWS configuration: {type(exc).__name__}: {exc}",
                provider=provider,
                operation=operation,
            ) from exc
        region = session.region_name or (LOCAL_REGION if self.endpoint_url else None)
        if region is None:
            raise RegionError(
                "no AWS region: give --region, or set AWS_REGION or a profile's region",
                provider=provider,
                operation=operation,
            )
        if self.endpoint_url is None:
            known = {
                name
                for partition in session.get_available_partitions()
                for name in session.get_available_regions(SERVICE, partition_name=partition)
            }
            if region not in known:
                raise RegionError(
                    f"Rekognition is not offered in region {region!r} (known to this botocore: "
                    f"{', '.join(sorted(known))}); give --endpoint-url for another endpoint",
                    provider=provider,
                    operation=operation,
                )
        config = Config(
            retries={"total_max_attempts": 1, "mode": "standard"},
            connect_timeout=self.connect_timeout_s,
            read_timeout=self.read_timeout_s,
            max_pool_connections=self.max_pool_connections,
            user_agent_extra="isotope-audit",
        )
        try:
            client = session.client(
                SERVICE, region_name=region, endpoint_url=self.endpoint_url, config=config
            )
        except BotoCoreError as exc:  # InvalidRegionError and kin
            raise RegionError(
                f"{type(exc).__name__}: {exc}", provider=provider, operation=operation
            ) from exc
        client.meta.events.register(f"before-parse.{SERVICE}", _flag_unreadable)
        bind_deadline(client)
        return client


def bind_deadline(client: Any) -> bool:
    """Give ``client``'s connection pools the calling thread's deadline
    (``providers.http.deadline``); False when this botocore keeps them elsewhere."""
    http = getattr(getattr(client, "_endpoint", None), "http_session", None)
    classes = getattr(http, "_pool_classes_by_scheme", None)
    manager = getattr(http, "_manager", None)
    if http is None or not isinstance(classes, dict) or manager is None:
        return False
    bound = deadline_pool_classes(classes)
    http._pool_classes_by_scheme = bound  # proxy managers made later copy it
    manager.pool_classes_by_scheme = bound
    return True


def _flag_unreadable(
    response_dict: dict[str, Any], customized_response_dict: dict[str, Any], **_: Any
) -> None:
    """botocore's ``before-parse`` hook: mark a 200 whose body is not a JSON object."""
    if response_dict.get("status_code") != 200:
        return
    try:
        parsed = json.loads(response_dict.get("body") or b"")
    except ValueError:
        parsed = None
    if not isinstance(parsed, dict):
        customized_response_dict[UNREADABLE] = True
