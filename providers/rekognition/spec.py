"""Registry entry of Amazon Rekognition face collections."""

from __future__ import annotations

from providers.errors import PermanentError, ProviderOptionError
from providers.spec import BuildContext, PriceRow, ProviderKind, ProviderSpec, RateSpec

IMAGE_USD = 0.001
"""IndexFaces and SearchFacesByImage, per image (list price, first million images a month)."""
FACE_MONTH_USD = 0.00001
"""Face metadata storage, per face per month (list price)."""

OPTIONS = {
    "max_faces": "matches a search returns at most, 1-4096 (default 10)",
    "threshold": "FaceMatchThreshold: least similarity a match needs, 0-100 (default 80)",
    "index_quality_filter": "IndexFaces QualityFilter: NONE|AUTO|LOW|MEDIUM|HIGH (default AUTO)",
    "search_quality_filter": "SearchFacesByImage QualityFilter (default NONE)",
    "concurrency": "calls in flight at once (default 4)",
    "connect_timeout": "seconds to connect (default 10)",
    "read_timeout": "seconds to wait for each read of a reply (default 60)",
    "deadline": "seconds for a whole call (default 4 x read_timeout)",
}


def _float_option(ctx: BuildContext, key: str, default: float) -> float:
    value = ctx.float_option(key, default)
    return default if value is None else value


def _int_option(ctx: BuildContext, key: str, default: int) -> int:
    value = _float_option(ctx, key, float(default))
    if not value.is_integer():
        raise ProviderOptionError(f"--provider-option {key}={ctx.option(key)!r} is not an integer")
    return int(value)


def build_collection(
    ctx: BuildContext,
    *,
    provider: str,
    endpoint_url: str | None,
    dummy_credentials: bool,
    profile: str | None,
) -> object:
    """A ``RekognitionCollection`` for ``ctx`` (collection id = ``--target``).

    Shared by the Rekognition and local face-engine entries. Bad input, including a bad
    region, raises ``ProviderOptionError``; a missing boto3 ``MissingExtraError``.
    """
    from providers.rekognition.collection import RekognitionCollection
    from providers.rekognition.connection import RekognitionConnection

    if not ctx.target:
        raise ProviderOptionError(f"--target for {provider} face collections is the collection id")
    try:
        connection = RekognitionConnection(
            region=ctx.region,
            endpoint_url=endpoint_url,
            profile=profile,
            dummy_credentials=dummy_credentials,
            connect_timeout_s=_float_option(ctx, "connect_timeout", 10.0),
            read_timeout_s=_float_option(ctx, "read_timeout", 60.0),
            deadline_s=ctx.float_option("deadline"),
        )
        return RekognitionCollection(
            ctx.target,
            connection=connection,
            provider=provider,
            max_faces=_int_option(ctx, "max_faces", 10),
            threshold=_float_option(ctx, "threshold", 80.0),
            index_quality_filter=ctx.option("index_quality_filter", "AUTO") or "AUTO",
            search_quality_filter=ctx.option("search_quality_filter", "NONE") or "NONE",
            max_concurrency=_int_option(ctx, "concurrency", 4),
        )
    except ValueError as exc:
        raise ProviderOptionError(f"{provider} collection {ctx.target!r}: {exc}") from None
    except PermanentError as exc:  # a region or profile that cannot be used
        raise ProviderOptionError(str(exc)) from None


def _build(ctx: BuildContext) -> object:
    return build_collection(
        ctx,
        provider="rekognition",
        endpoint_url=ctx.endpoint_url,
        dummy_credentials=False,
        profile=ctx.option("profile"),
    )


SPEC = ProviderSpec(
    name="rekognition",
    kind=ProviderKind.FACE_COLLECTION,
    extra="aws",
    prices=(
        PriceRow("index", IMAGE_USD, "Rekognition IndexFaces $0.001 per image (list price)"),
        PriceRow(
            "search", IMAGE_USD, "Rekognition SearchFacesByImage $0.001 per image (list price)"
        ),
        PriceRow("storage", FACE_MONTH_USD, "Rekognition face storage $0.00001 per face-month"),
    ),
    rate=RateSpec(5.0, 5),  # default transactions per second of the face APIs
    target_help=(
        "the collection id ([a-zA-Z0-9_.-], 1-255); region from --region or the AWS "
        "profile, credentials from the AWS standard chain"
    ),
    build=_build,
    options={"profile": "AWS shared-config profile to use", **OPTIONS},
    summary="an Amazon Rekognition face collection (boto3)",
)
