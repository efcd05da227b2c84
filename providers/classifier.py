"""The ``Classifier`` protocol every classification adapter implements."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol, runtime_checkable

from providers.query import QueryImage
from providers.scores import Scores


@runtime_checkable
class Classifier(Protocol):
    """A model that scores images by label.

    ``provider`` and ``target`` name the service and the model/endpoint; with
    ``parameters`` and the identity of the model that answers (``model_identity``,
    ``Scores.model``) they form the ledger key of a query, so two adapters or models
    that would answer differently must differ in one of them. ``max_batch`` is how many images
    one ``classify`` call may carry; ``max_concurrency`` how many calls may be in
    flight at once. ``classify`` raises ``providers.errors`` types on failure.
    """

    provider: str
    max_batch: int
    max_concurrency: int

    @property
    def target(self) -> str:
        """The model or endpoint: with ``provider``, its identity in the ledger."""
        ...

    @property
    def parameters(self) -> Mapping[str, object]:
        """Request parameters that change the reply (output mode, K, threshold)."""
        ...

    def labels(self) -> list[str] | None:
        """Every label the model knows, if the service can tell; else None."""
        ...

    def model_identity(self) -> str | None:
        """The identity of the model serving now, if the service tells it without a
        billed query (None: learn it from a reply's ``Scores.model``).

        Raises ``PermanentError`` when no single model answers (e.g. a traffic split
        between two deployed models), since replies would mix models.
        """
        ...

    def classify(self, images: Sequence[QueryImage]) -> list[Scores]:
        """Score each image; one ``Scores`` per image, in order."""
        ...
