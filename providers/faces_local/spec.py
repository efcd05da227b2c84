"""Registry entry of the local face engine as a face-collection provider ("local").

The engine (``isotope faces serve``) speaks Rekognition's protocol, so the Rekognition
adapter reaches it at a URL, signing with fixed dummy credentials: no real AWS key is
ever used for it. Building the adapter needs boto3 (extra ``aws``); running the engine
needs dlib (extra ``faces``).
"""

from __future__ import annotations

from providers.rekognition.spec import OPTIONS, build_collection
from providers.spec import BuildContext, PriceRow, ProviderKind, ProviderSpec, RateSpec

DEFAULT_URL = "http://127.0.0.1:8090"
"""Where ``isotope faces serve`` listens by default."""


def _build(ctx: BuildContext) -> object:
    return build_collection(
        ctx,
        provider="local",
        endpoint_url=ctx.endpoint_url or DEFAULT_URL,
        dummy_credentials=True,
        profile=None,
    )


SPEC = ProviderSpec(
    name="local",
    kind=ProviderKind.FACE_COLLECTION,
    extra="aws",
    prices=(
        PriceRow("index", 0.0, "local face engine on your own machine"),
        PriceRow("search", 0.0, "local face engine on your own machine"),
        PriceRow("storage", 0.0, "local face engine on your own machine"),
    ),
    rate=RateSpec(None),
    target_help=(
        f"the collection id ([a-zA-Z0-9_.-], 1-255) on the local face engine at "
        f"--endpoint-url (default {DEFAULT_URL})"
    ),
    build=_build,
    options=OPTIONS,
    summary="the local face engine (`isotope faces serve`: dlib, SQLite, Rekognition protocol)",
)
