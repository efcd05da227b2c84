"""What the provider registry knows about one provider: ``ProviderSpec``.

Each provider folder defines one ``SPEC`` in its ``spec.py``, importing no SDK: the
adapter is imported by ``build`` only when the provider is chosen, so a missing extra
fails with its ``MissingExtraError`` message instead of breaking every command.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from providers.errors import ProviderOptionError


class ProviderKind(StrEnum):
    """What a provider's models do."""

    CLASSIFIER = "classifier"  # scores an image by label (providers.classifier.Classifier)
    FACE_COLLECTION = "face_collection"  # enrolls faces, searches by face


@dataclass(frozen=True)
class PriceRow:
    """What one billed operation costs, and where the figure comes from.

    ``operation`` is the budget's unit: ``query`` for a classification, ``search`` and
    ``index`` for face collections, ``storage`` for stored faces per month.
    """

    operation: str
    usd: float
    source: str


@dataclass(frozen=True)
class RateSpec:
    """A provider's default client-side rate limit: calls per second and burst.

    ``per_s`` None means unlimited (your own machine, the in-process mock).
    """

    per_s: float | None
    burst: int = 1


@dataclass(frozen=True)
class BuildContext:
    """Everything a provider may be built from.

    ``target`` is what ``--target`` says (a URL, an endpoint or collection name, mock
    settings); ``options`` the ``--provider-option KEY=VALUE`` pairs; ``endpoint_url``
    and ``region`` the common ``--endpoint-url``/``--api-endpoint`` and ``--region``;
    ``top_k`` asks for top-K output where the client chooses; ``resolve_mark`` maps a
    held mark's name to its fingerprint (the mock plants isotopes by name).
    """

    target: str = ""
    options: Mapping[str, str] = field(default_factory=dict)
    endpoint_url: str | None = None
    region: str | None = None
    top_k: int | None = None
    resolve_mark: Callable[[str], str] | None = None

    def option(self, key: str, default: str | None = None) -> str | None:
        """The value of ``--provider-option key=...``, else ``default``."""
        return self.options.get(key, default)

    def float_option(self, key: str, default: float | None = None) -> float | None:
        """A numeric option; ``ProviderOptionError`` naming it when it is not a number."""
        value = self.options.get(key)
        if value is None:
            return default
        try:
            return float(value)
        except ValueError:
            raise ProviderOptionError(
                f"--provider-option {key}={value!r} is not a number"
            ) from None


@dataclass(frozen=True)
class ProviderSpec:
    """One provider: its name, kind, extra, prices, rate limit and how to build it.

    ``options`` documents the ``--provider-option`` keys it understands (key → help);
    ``build`` returns the adapter (a ``Classifier`` or a ``FaceCollection``) and may
    raise ``ProviderOptionError`` for bad input or ``MissingExtraError`` for a
    missing SDK.
    """

    name: str
    kind: ProviderKind
    extra: str | None
    prices: tuple[PriceRow, ...]
    rate: RateSpec
    target_help: str
    build: Callable[[BuildContext], object]
    options: Mapping[str, str] = field(default_factory=dict)
    summary: str = ""

    def price(self, operation: str) -> PriceRow | None:
        """The price row of ``operation``, if the provider bills it."""
        return next((row for row in self.prices if row.operation == operation), None)
