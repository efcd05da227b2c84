"""Every provider the ``isotope`` commands can use: one ``ProviderSpec`` each.

Adding a provider means adding its folder (adapter plus ``spec.py``) and one entry in
``SPECS``; ``--provider`` choices, prices, rate limits and the "install the extra"
message all come from here. Specs import no SDK: ``build`` imports the adapter only
when the provider is chosen.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from providers.azure.spec import SPEC as AZURE
from providers.errors import MissingExtraError, ProviderOptionError
from providers.faces_local.spec import SPEC as LOCAL_FACES
from providers.local.spec import SPEC as LOCAL
from providers.mock.spec import SPEC as MOCK
from providers.rate_limit import RateLimiter
from providers.rekognition.spec import SPEC as REKOGNITION
from providers.spec import BuildContext, ProviderKind, ProviderSpec
from providers.vertex.spec import SPEC as VERTEX

SPECS: tuple[ProviderSpec, ...] = (MOCK, LOCAL, VERTEX, AZURE, REKOGNITION, LOCAL_FACES)

COMMON_OPTIONS: Mapping[str, str] = {
    "rate": "client-side rate limit in calls per second (default: the provider's)",
}
"""``--provider-option`` keys every provider understands."""


def specs(kind: ProviderKind = ProviderKind.CLASSIFIER) -> list[ProviderSpec]:
    """The providers of ``kind``, in registry order."""
    return [spec for spec in SPECS if spec.kind is kind]


def names(kind: ProviderKind = ProviderKind.CLASSIFIER) -> list[str]:
    """The provider names of ``kind``, in registry order."""
    return [spec.name for spec in specs(kind)]


def get(name: str, kind: ProviderKind = ProviderKind.CLASSIFIER) -> ProviderSpec:
    """The spec of provider ``name`` among those of ``kind``."""
    for spec in SPECS:
        if spec.name == name and spec.kind is kind:
            return spec
    raise ProviderOptionError(
        f"unknown {kind.value.replace('_', ' ')} provider {name!r}: choose one of "
        f"{', '.join(names(kind))}"
    )


def parse_options(pairs: Iterable[str]) -> dict[str, str]:
    """``KEY=VALUE`` strings (``--provider-option``) as a dict; the last one wins."""
    options: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise ProviderOptionError(f"--provider-option {pair!r} is not KEY=VALUE")
        options[key] = value.strip()
    return options


def check_options(spec: ProviderSpec, options: Mapping[str, str]) -> None:
    """Refuse option keys ``spec`` does not understand, listing the ones it does."""
    known = {**COMMON_OPTIONS, **spec.options}
    unknown = sorted(set(options) - set(known))
    if unknown:
        raise ProviderOptionError(
            f"provider {spec.name} has no option {', '.join(unknown)}; it understands "
            f"{', '.join(sorted(known))}"
        )


def build(name: str, ctx: BuildContext, kind: ProviderKind = ProviderKind.CLASSIFIER) -> object:
    """The adapter of provider ``name`` built from ``ctx`` (options checked first)."""
    spec = get(name, kind)
    check_options(spec, ctx.options)
    try:
        return spec.build(ctx)
    except MissingExtraError as exc:
        if spec.extra is None:
            raise
        raise MissingExtraError(spec.name, spec.extra) from exc


def rate_limiter(spec: ProviderSpec, options: Mapping[str, str]) -> RateLimiter:
    """The client-side limiter of ``spec``: its default rate, or ``rate=`` from options."""
    override = BuildContext(options=options).float_option("rate")
    if override is None:
        return RateLimiter(spec.rate.per_s, spec.rate.burst)
    if not 0 < override <= 10_000:
        raise ProviderOptionError(
            f"--provider-option rate={override:g} must be above 0 and at most 10000 calls/s"
        )
    # Half a second's worth: a burst as large as the service's own bucket empties both
    # at once, and calls that arrive a little early are refused (measured on Azure S1).
    return RateLimiter(override, max(1, int(override / 2)))


def default_limiter(provider: str, kind: ProviderKind = ProviderKind.CLASSIFIER) -> RateLimiter:
    """The default limiter of a registered provider; unlimited for any other (a test's)."""
    spec = next((s for s in SPECS if s.name == provider and s.kind is kind), None)
    return rate_limiter(spec, {}) if spec is not None else RateLimiter(None)
