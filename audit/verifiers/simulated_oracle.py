"""A fast ``ScoreOracle`` over the mock's score model, for simulations and tests.

It draws the same kind of model as ``providers.mock.MockClassifier`` (natural effects
of every mark on every label, disruption, image × mark noise, planted isotope
effects) but works on mark and image indices directly, with no images, no encoding
and whole rows vectorised: thousands of simulated audits run in seconds. Each
instance is one model with its own marks; a new ``seed`` is a new model.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from audit.errors import BudgetExhausted
from audit.queries.oracle import CLEAN, TRUE_MARK, Indices
from providers.mock.classifier import (
    MockSpec,
    compose_logits,
    draw_images,
    draw_mark_effects,
    log_softmax,
    seeded_rng,
)


class SimulatedOracle:
    """Scores of marked auxiliary images from a simulated model.

    ``label`` is the person's label j (auxiliary images are of other classes);
    ``effect`` is the planted logit effect of ``TRUE_MARK`` on j (0: a clean model).
    ``planted`` adds more: mark index -> (label name, effect), e.g. for V_D.
    ``statistic`` is "log_prob" (full output), "neg_rank" with ``top_k`` or
    ``threshold`` output, or "confidence" with ``threshold`` output: each label's
    probability where it reaches the threshold, else 0 (what an audit scores a tagger
    with, ``audit.queries.provider_oracle.CONFIDENCE``). ``max_queries`` caps
    distinct (mark, image) pairs.
    ``exchangeable`` is the oracle's claim about its externals (``ScoreOracle``): True
    here by construction (every mark's natural effects are i.i.d. draws of one
    distribution); False lets tests check how verifiers label an approximate p-value.
    """

    def __init__(
        self,
        *,
        n_labels: int = 10,
        label: str = "l0",
        n_images: int = 200,
        n_external: int = 20,
        effect: float = 0.0,
        planted: Mapping[int, tuple[str, float]] | None = None,
        spec: MockSpec | None = None,
        statistic: str = "log_prob",
        top_k: int | None = None,
        threshold: float | None = None,
        seed: int = 0,
        max_queries: int | None = None,
        exchangeable: bool = True,
    ) -> None:
        self.labels = [f"l{i}" for i in range(n_labels)]
        if label not in self.labels:
            raise ValueError(f"label {label!r} is not one of {self.labels}")
        if statistic not in ("log_prob", "neg_rank", "confidence"):
            raise ValueError(
                f"statistic must be 'log_prob', 'neg_rank' or 'confidence', got {statistic!r}"
            )
        if statistic == "confidence" and not (threshold is not None and 0 < threshold < 1):
            raise ValueError(f"the confidence statistic needs 0 < threshold < 1, got {threshold}")
        self.n_images = n_images
        self.n_external = n_external
        self.statistic = statistic
        self.spec = spec or MockSpec()
        self.seed = seed
        self.top_k = top_k
        self.threshold = threshold
        self.max_queries = max_queries
        self.exchangeable = exchangeable
        j = self.labels.index(label)
        self._planted: dict[int, list[tuple[int, float]]] = {}
        if effect:
            self._planted.setdefault(TRUE_MARK, []).append((j, float(effect)))
        for mark, (name, size) in (planted or {}).items():
            self._planted.setdefault(mark, []).append((self.labels.index(name), float(size)))
        rng = seeded_rng("images", seed)
        others = np.array([i for i in range(n_labels) if i != j])
        self._classes = others[rng.integers(0, len(others), size=n_images)]
        self._base = draw_images(self.spec, rng, self._classes, n_labels)
        self._rows: dict[int, np.ndarray] = {}
        self._asked: set[tuple[int, int]] = set()

    def _row(self, mark: int) -> np.ndarray:
        """The statistic of every image × label for one mark (cached)."""
        if mark not in self._rows:
            if mark != CLEAN and not 0 <= mark <= self.n_external:
                raise ValueError(f"mark index {mark} is outside 0..{self.n_external} and CLEAN")
            n_labels = len(self.labels)
            effects = disruption = None
            if mark != CLEAN:
                e, d = draw_mark_effects(
                    self.spec, seeded_rng("mark", self.seed, mark), 1, n_labels
                )
                effects, disruption = e[0], d[0]
            noise = self.spec.noise_sd * seeded_rng("noise", self.seed, mark).standard_normal(
                self._base.shape
            )
            logits = compose_logits(self._base, self._classes, effects, disruption, noise)
            for label_index, size in self._planted.get(mark, []):
                logits[:, label_index] += size
            self._rows[mark] = self._statistic(log_softmax(logits))
        return self._rows[mark]

    def _statistic(self, log_probs: np.ndarray) -> np.ndarray:
        if self.statistic == "log_prob":
            return log_probs
        if self.statistic == "confidence":
            # As a tagger returns it: the probability at or above the cut-off, else 0.
            probs = np.exp(log_probs)
            return np.where(probs >= self.threshold, probs, 0.0)
        # Rank 1 = highest; a label the service would not return ranks (returned + 1).
        ranks = 1 + np.argsort(np.argsort(-log_probs, axis=1, kind="stable"), axis=1)
        if self.top_k is not None:
            ranks = np.where(ranks > self.top_k, self.top_k + 1, ranks)
        elif self.threshold is not None:
            returned = (np.exp(log_probs) >= self.threshold).sum(axis=1, keepdims=True)
            ranks = np.where(np.exp(log_probs) >= self.threshold, ranks, returned + 1)
        return -ranks.astype(float)

    def query(self, marks: Indices, images: Indices) -> np.ndarray:
        """Statistic array of shape (len(marks), len(images), len(labels))."""
        images = np.asarray(images, dtype=int)
        if images.size and (images.min() < 0 or images.max() >= self.n_images):
            raise ValueError(f"image index outside 0..{self.n_images - 1}")
        new = {(int(m), int(b)) for m in marks for b in images} - self._asked
        if self.max_queries is not None and len(self._asked) + len(new) > self.max_queries:
            raise BudgetExhausted(
                f"{len(new)} more queries would pass the budget of {self.max_queries}"
            )
        self._asked |= new
        return np.stack([self._row(int(m))[images] for m in marks])

    def queries_used(self) -> int:
        """Distinct (mark, image) pairs answered so far."""
        return len(self._asked)
