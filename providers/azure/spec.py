"""The provider registry's entry for Azure AI Vision (``--provider azure``); imports no SDK."""

from __future__ import annotations

import os

from providers.errors import ProviderOptionError
from providers.spec import BuildContext, PriceRow, ProviderKind, ProviderSpec, RateSpec

ENDPOINT_ENV = "VISION_ENDPOINT"
"""Where the SDK's samples keep the endpoint; used when no target is given."""
F0_RATE = 20 / 60  # the free tier allows 20 calls per minute

OPTIONS = {
    # Read by the registry's rate limiter, documented here for the F0 tier.
    "rate": (
        "calls per second to keep to (default 20, the S1 tier's limit; the free F0 tier "
        f"allows 20 per minute: rate={F0_RATE:.3f})"
    ),
    "key-env": "environment variable holding the resource's key (default VISION_KEY)",
    "language": "language of the tags, a two-letter code (default en)",
    "model-version": (
        "the service model to use: latest (default) or a date such as 2023-10-01; pin "
        "one so that replies stay comparable over an audit"
    ),
    "api-version": "Image Analysis API version (default 2023-10-01)",
    "timeout": "seconds to connect, and to wait for each read of a reply (default 30)",
    "deadline": "seconds for a whole call (default 4 x timeout)",
    "concurrency": "calls in flight at once (default 16; the rate limit still applies)",
}


def _positive(ctx: BuildContext, key: str, default: float) -> float:
    value = ctx.float_option(key, default)
    if value is None or not value > 0:
        raise ProviderOptionError(f"--provider-option {key}={ctx.option(key)!r} must be > 0")
    return value


def build(ctx: BuildContext) -> object:
    """An ``AzureTagger`` for ``ctx`` (the endpoint from ``--target``, ``--endpoint-url``
    or ``$VISION_ENDPOINT``). ``rate`` is the registry's (its rate limiter); ``--top-k``
    does not apply: the service chooses which tags to return."""
    concurrency = _positive(ctx, "concurrency", 16)
    if concurrency != int(concurrency):
        raise ProviderOptionError(
            f"--provider-option concurrency={ctx.option('concurrency')!r} must be a whole number"
        )
    endpoint = ctx.target or ctx.endpoint_url or os.environ.get(ENDPOINT_ENV, "")
    if not endpoint:
        raise ProviderOptionError(
            "azure needs the resource's endpoint: --target "
            f"https://NAME.cognitiveservices.azure.com (or set {ENDPOINT_ENV})"
        )
    from providers.azure.tagger import DEFAULT_API_VERSION, AzureTagger

    try:
        return AzureTagger(
            endpoint,
            key_env=ctx.option("key-env") or "VISION_KEY",
            language=ctx.option("language") or "en",
            model_version=ctx.option("model-version") or "latest",
            api_version=ctx.option("api-version") or DEFAULT_API_VERSION,
            timeout=_positive(ctx, "timeout", 30.0),
            deadline_s=_positive(ctx, "deadline", 1.0) if "deadline" in ctx.options else None,
            max_concurrency=int(concurrency),
        )
    except ValueError as exc:
        raise ProviderOptionError(f"azure: {exc}") from None


SPEC = ProviderSpec(
    name="azure",
    kind=ProviderKind.CLASSIFIER,
    extra="azure",
    prices=(
        PriceRow(
            "query",
            0.001,
            "Azure AI Vision Image Analysis tags, S1 list price about $1 per 1,000 transactions",
        ),
    ),
    # The S1 limit, with a burst below the service's own: a client whose bucket matches
    # the service's drains both together, and then any call that arrives a little
    # early is refused (benchmarks/azure_throughput.py measured 429s with burst 20 and
    # none with 10, at the same 20 calls/s sustained).
    rate=RateSpec(20.0, 10),
    target_help=(
        "the Azure AI Vision resource's endpoint, https://NAME.cognitiveservices.azure.com "
        f"(default ${ENDPOINT_ENV}); key from $VISION_KEY, else Microsoft Entra ID; "
        "http:// only for a local server on this machine"
    ),
    build=build,
    options=OPTIONS,
    summary="Azure AI Vision image tagger: the tags above the service's threshold",
)
