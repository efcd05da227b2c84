"""Where and as whom boto3 talks to Rekognition: region, endpoint, credentials, timeouts.

Credentials come only from the AWS standard chain (environment, shared profile, SSO,
instance or container role), except for a local engine, which is given fixed dummy
credentials so that no real key is ever signed for a server on this machine. botocore's
own retries are switched off (one attempt, standard mode) so that the project's
``providers.retry.RetryPolicy`` is the only retry layer; connect and read timeouts are
explicit. Nothing here prints or logs a credential.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import ModuleType
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from providers.errors import MissingExtraError, PermanentError
from providers.rekognition.errors import RegionError

SERVICE = "rekognition"
LOCAL_REGION = "us-east-1"  # what a local engine is signed for when no region is given


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
    max_pool_connections: int = 10

    def __post_init__(self) -> None:
        if self.endpoint_url is not None:
            check_endpoint_url(self.endpoint_url)
        if self.connect_timeout_s <= 0 or self.read_timeout_s <= 0:
            raise ValueError("connect and read timeouts must be positive")
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
            return session.client(
                SERVICE, region_name=region, endpoint_url=self.endpoint_url, config=config
            )
        except BotoCoreError as exc:  # InvalidRegionError and kin
            raise RegionError(
                f"{type(exc).__name__}: {exc}", provider=provider, operation=operation
            ) from exc
