"""Propose the label j from the person's own clean images, for a person who does not know it.

The model's answers on the images the person posted say which label the service gave
them. Choosing j this way looks only at the person's own images, never at the audit's
auxiliary queries, so the single test that follows needs no correction for the choice.
"""

from __future__ import annotations

from pathlib import Path

from audit.inputs.aux_images import load_aux_images
from audit.spending.budget import Budget
from audit.spending.ledger import Ledger, LedgeredClassifier, QueryCounts
from audit.verifiers.label_scan import LabelProposal, propose_labels
from providers import registry
from providers.classifier import Classifier
from providers.query import QueryImage
from providers.rate_limit import RateLimiter
from providers.retry import RetryPolicy


def count_own_images(own_dir: Path) -> int:
    """How many readable images ``own_dir`` holds (each costs one query)."""
    return len(load_aux_images(own_dir))


def propose_from_own_images(
    classifier: Classifier,
    own_dir: Path,
    *,
    workspace: Path,
    budget: Budget,
    top: int = 3,
    retry: RetryPolicy | None = None,
    limiter: RateLimiter | None = None,
) -> tuple[list[LabelProposal], QueryCounts]:
    """The ``top`` labels the model gives the clean images in ``own_dir``, best first.

    Queries go through the workspace's ledger within ``budget`` (``BudgetExhausted``
    before anything is sent if they do not fit).
    """
    images = load_aux_images(own_dir)
    ledger = Ledger.in_workspace(workspace)
    try:
        ledgered = LedgeredClassifier(
            classifier,
            ledger,
            budget,
            retry,
            limiter if limiter is not None else registry.default_limiter(classifier.provider),
        )
        queries = [
            QueryImage.from_array(pixels, base=image_id)
            for pixels, image_id in zip(images.images, images.ids, strict=True)
        ]
        replies = ledgered.classify(queries)
    finally:
        ledger.close()
    return propose_labels(replies, top=top), ledgered.counts
