"""Registry entry of Google Vertex AI endpoints."""

from __future__ import annotations

from providers.errors import ProviderOptionError
from providers.spec import (
    BuildContext,
    PriceRow,
    ProviderKind,
    ProviderSpec,
    RateSpec,
)

NODE_HOUR_USD = 1.375
"""AutoML image online prediction, per deployed node hour (list price 2026)."""
QUERIES_PER_NODE_HOUR = 3600
"""Assumed throughput for the per-query estimate: one prediction per second per node."""


def _build(ctx: BuildContext) -> object:
    from providers.vertex.predict import VertexClassifier

    if ctx.top_k is not None:
        raise ProviderOptionError(
            "vertex endpoints decide their own output; top-K replies are detected without --top-k"
        )
    try:
        return VertexClassifier(
            ctx.target,
            project=ctx.option("project"),
            location=ctx.region or ctx.option("location", "us-central1") or "us-central1",
            api_endpoint=ctx.endpoint_url,
            transport=ctx.option("transport"),
            timeout=ctx.float_option("timeout", 60.0) or 60.0,
            deadline_s=ctx.float_option("deadline"),
        )
    except ValueError as exc:
        raise ProviderOptionError(str(exc)) from None


SPEC = ProviderSpec(
    name="vertex",
    kind=ProviderKind.CLASSIFIER,
    extra="vertex",
    prices=(
        PriceRow(
            "query",
            NODE_HOUR_USD / QUERIES_PER_NODE_HOUR,
            "AutoML image online prediction $1.375 per node hour, assumed 1 query/s; "
            "a deployed endpoint also bills idle node hours",
        ),
    ),
    rate=RateSpec(10.0, 10),  # a conservative share of the per-project online quota
    target_help="an endpoint resource name projects/P/locations/L/endpoints/E "
    "(or a bare ID with --provider-option project=P); credentials from ADC",
    build=_build,
    options={
        "project": "project of a bare endpoint ID",
        "location": "region of a bare endpoint ID (default us-central1; or --region)",
        "transport": "rest | grpc",
        "timeout": "seconds to connect and per read of a reply (default 60)",
        "deadline": "seconds for a whole call over REST (default 4 x timeout)",
    },
    summary="a model deployed on a Google Vertex AI endpoint (real SDK)",
)
