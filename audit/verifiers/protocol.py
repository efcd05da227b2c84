"""What every verifier offers the audit runner: ``Needs``, ``Question``, ``Verifier``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from audit.queries.oracle import ScoreOracle
from audit.verifiers.verdict import VerifierResult

OTHER_MARK = 1
"""Oracle index of the distinguisher's second held mark (t_k); externals follow it."""


@dataclass(frozen=True)
class Question:
    """What an audit asks of the model.

    ``label`` is j (None for a label scan, which looks at every label);
    ``other_label`` is the distinguisher's y_k, whose mark is oracle mark ``OTHER_MARK``.
    """

    label: str | None = None
    other_label: str | None = None

    def __str__(self) -> str:
        return self.label or ""


@dataclass(frozen=True)
class Needs:
    """What a verifier needs from an audit, known before any query.

    ``held_marks`` marks of the person lead the oracle (1, or 2 for the distinguisher);
    ``externals`` external marks follow them; ``images`` auxiliary images are used at
    most; ``first_queries`` is the smallest query set that yields any evidence and
    ``max_queries`` the worst case, both in distinct (mark, image) pairs.
    """

    held_marks: int
    externals: int
    images: int
    first_queries: int
    max_queries: int


class Verifier(Protocol):
    """A statistical test of "the model learned the person's mark".

    ``needs(n_images_available)`` says what ``run`` will ask for, for dry runs and
    budgets. ``run`` never raises ``BudgetExhausted``: it returns an inconclusive
    result with the evidence gathered so far. ``null_hypothesis`` says, in words,
    what the p-value is computed under.
    """

    @property
    def name(self) -> str: ...

    @property
    def null_hypothesis(self) -> str: ...

    def needs(self, n_images_available: int) -> Needs: ...

    def run(self, oracle: ScoreOracle, question: Question) -> VerifierResult: ...
