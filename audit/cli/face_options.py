"""Options and helpers the face commands share (``isotope faces ...``, ``audit faces``)."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import typer

from audit.spending.budget import Budget
from audit.spending.prices import price
from providers import registry
from providers.face_collection import FaceCollection
from providers.rate_limit import RateLimiter
from providers.spec import ProviderKind

FACES = ProviderKind.FACE_COLLECTION

FaceProvider = StrEnum(  # type: ignore[misc]
    "FaceProvider", {name: name for name in registry.names(FACES)}
)

ProviderArg = typer.Option(
    ...,
    "--provider",
    help="Face-search service: "
    + "; ".join(f"{s.name}: {s.summary}" for s in registry.specs(FACES)),
)
CollectionArg = typer.Option(
    ..., "--collection", help=r"Collection id (\[a-zA-Z0-9_.-], 1-255 characters)."
)
BudgetQueriesOption = typer.Option(
    None, "--budget-queries", min=0, help="Most billed calls in this run (repeats are free)."
)
BudgetUsdOption = typer.Option(None, "--budget-usd", min=0.0, help="Most dollars to spend.")
PricesOption = typer.Option(
    None, "--prices", help=r"TOML price file (\[prices.PROVIDER] search = USD, index = USD)."
)
DryRunOption = typer.Option(False, "--dry-run", help="Print the plan and its cost; send nothing.")


def build_collection(
    provider: str,
    collection: str,
    *,
    options: list[str] | None,
    endpoint_url: str | None,
    region: str | None,
) -> tuple[FaceCollection, RateLimiter]:
    """The face-collection adapter and its client-side rate limiter."""
    from audit.cli.common import build_provider

    adapter, limiter = build_provider(
        provider,
        collection,
        kind=FACES,
        options=options,
        endpoint_url=endpoint_url,
        region=region,
    )
    assert isinstance(adapter, FaceCollection)
    return adapter, limiter


def face_price(provider: str, operation: str, prices: Path | None) -> float:
    """USD per ``operation`` (``search`` or ``index``) on a face provider."""
    return price(provider, operation, kind=FACES, prices_file=prices)


def face_budget(
    provider: str,
    operation: str,
    *,
    queries: int | None,
    usd: float | None,
    prices: Path | None,
) -> Budget:
    """A budget of ``queries`` calls and ``usd`` dollars at ``operation``'s price."""
    return Budget(queries, usd, face_price(provider, operation, prices))
