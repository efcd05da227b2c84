"""Registry entry of the local provider: any server speaking the Vertex AI REST predict
protocol, such as ``isotope serve``."""

from __future__ import annotations

import os

from providers.errors import ProviderOptionError
from providers.spec import (
    BuildContext,
    PriceRow,
    ProviderKind,
    ProviderSpec,
    RateSpec,
)

API_KEY_ENV = "ISOTOPE_LOCAL_API_KEY"
"""Environment variable holding the API key of a local server started with one."""
_OUTPUTS = ("full", "top_k", "threshold")


def _build(ctx: BuildContext) -> object:
    from providers.local.client import LocalClassifier

    if not ctx.target:
        raise ProviderOptionError("--target for the local provider is the server URL")
    output = ctx.option("output", "top_k" if ctx.top_k else "full")
    if output not in _OUTPUTS:
        raise ProviderOptionError(
            f"--provider-option output={output!r}: choose one of {', '.join(_OUTPUTS)}"
        )
    k = ctx.top_k if ctx.top_k is not None else ctx.float_option("k")
    timeout = ctx.float_option("timeout")
    try:
        return LocalClassifier(
            ctx.target,
            endpoint=ctx.option("endpoint", "local") or "local",
            api_key=os.environ.get(API_KEY_ENV) or None,
            output=output,
            k=None if k is None else int(k),
            threshold=ctx.float_option("threshold"),
            timeout_s=30.0 if timeout is None else timeout,
            deadline_s=ctx.float_option("deadline"),
        )
    except ValueError as exc:
        raise ProviderOptionError(f"local target {ctx.target!r}: {exc}") from None


SPEC = ProviderSpec(
    name="local",
    kind=ProviderKind.CLASSIFIER,
    extra=None,
    prices=(PriceRow("query", 0.0, "your own machine"),),
    rate=RateSpec(None),
    target_help=(
        f"the server's base URL, e.g. http://127.0.0.1:8080 (API key from ${API_KEY_ENV})"
    ),
    build=_build,
    options={
        "output": "full | top_k | threshold: what to ask the server for (default full)",
        "k": "labels asked for with output=top_k",
        "threshold": "cut-off with output=threshold",
        "endpoint": "endpoint ID in the URL path (default local)",
        "timeout": "seconds to connect, and to wait for each read of a reply (default 30)",
        "deadline": "seconds for a whole call (default 4 x timeout)",
    },
    summary="a model served by `isotope serve` or any Vertex-REST predict server",
)
