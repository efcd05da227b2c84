"""``AuditRequest``: what to audit and how, before anything is loaded or sent."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from audit.queries.provider_oracle import LOG_PROB
from audit.spending.budget import Budget
from audit.verifiers.protocol import Question, Verifier
from marks.mark import Mark
from marks.store import MarkStore
from providers.classifier import Classifier
from providers.rate_limit import RateLimiter
from providers.retry import RetryPolicy

if TYPE_CHECKING:  # loading surrogates needs torch; most audits never do
    from audit.surrogates.models import SurrogateSet


@dataclass
class AuditRequest:
    """What to audit and how.

    ``question`` holds label j (None for a label scan) and the distinguisher's y_k;
    ``other_mark`` is the distinguisher's second held mark t_k (oracle mark 1, before
    the externals). ``externals`` are held external marks; fresh ones of the true
    mark's family fill up to what the verifier needs. ``statistic`` is ``log_prob``
    (full output) or ``neg_rank`` (top-K/threshold output). ``limiter`` None uses the
    provider's default rate from the registry; ``retry`` None the standard policy.
    ``store`` keeps the secret randomness fresh externals are drawn from (and a pool
    mark's externals); None draws them for this run only. ``surrogate`` is the
    person's own surrogate models (``audit.surrogates``): the verifier's statistics
    are then adjusted by what they predict for each mark (scored locally, not billed).
    """

    classifier: Classifier
    verifier: Verifier
    mark: Mark
    aux_dir: Path
    alpha: float
    budget: Budget
    question: Question = field(default_factory=Question)
    externals: Sequence[Mark] = ()
    other_mark: Mark | None = None
    statistic: str = LOG_PROB
    limiter: RateLimiter | None = None
    retry: RetryPolicy | None = None
    store: MarkStore | None = None
    surrogate: SurrogateSet | None = None

    def audited_labels(self) -> list[str]:
        """The labels the audit is about (their auxiliary images are left out)."""
        labels = [self.question.label, self.question.other_label]
        return [label for label in labels if label is not None]

    def leading_marks(self) -> list[Mark]:
        """The person's marks, in oracle order: the true mark, then t_k if any."""
        return [self.mark] + ([self.other_mark] if self.other_mark is not None else [])
