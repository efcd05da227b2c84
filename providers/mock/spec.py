"""Registry entry of the in-process mock classifier."""

from __future__ import annotations

from providers.spec import BuildContext, PriceRow, ProviderKind, ProviderSpec, RateSpec


def _build(ctx: BuildContext) -> object:
    from providers.mock.target import mock_from_target

    return mock_from_target(ctx.target, resolve_mark=ctx.resolve_mark, top_k=ctx.top_k)


SPEC = ProviderSpec(
    name="mock",
    kind=ProviderKind.CLASSIFIER,
    extra=None,
    prices=(PriceRow("query", 0.0, "in-process simulation"),),
    rate=RateSpec(None),
    target_help="key=value pairs: seed=0,labels=10,trained-on=MARK:LABEL[:EFFECT],mode=top_k,k=3",
    build=_build,
    summary="a simulated classifier with planted isotopes, for trying things out",
)
