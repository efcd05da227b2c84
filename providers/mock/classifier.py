"""An in-process classifier with natural mark effects and a planted isotope effect.

The mock's logits for image ``b`` (own class ``c_b``) blended with mark ``a`` are

    z[l] = u_b[l] + confidence·[l = c_b]                 # the image
         + e_a[l] − d_a·[l = c_b]                         # the mark's natural effect
         + ε_ab[l]                                        # image × mark noise
         + Σ planted effect on label j if a is an isotope # what training on isotopes adds

where ``e_a`` is a label-specific natural effect (every mark, seen or not, nudges
every label) and ``d_a`` a "disruption": how much blending the mark hides the
image's own content, which lifts the log-probability of every other label at once.
Clean images have no mark terms. Everything is drawn from generators seeded by
hashes of (model seed, image id, mark fingerprint), so the same query always gets
the same answer and a ledger cache stays consistent.

``MockSpec`` defaults are calibrated to measurements on real CIFAR-10 models (see
``MockSpec``); ``compose_logits`` and the ``draw_*`` helpers are shared with the
fast score-level simulator in ``audit.verifiers.simulated_oracle``.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass

import numpy as np

from providers.query import QueryImage
from providers.scores import OutputMode, Scores


@dataclass(frozen=True)
class MockSpec:
    """Sizes of the mock's effects, in logit units.

    Defaults reproduce measurements on real CIFAR-10 models: on clean mocks
    the paper's paired one-sided t-test between two marks on one label at n = 50 is
    significant at λ = 0.1 in ~38% of rounds (measured: 38–45%; ``tests/verifiers``
    checks it). The natural spread is split evenly between label-specific effects and
    disruption (an assumption: ``benchmarks/verifier_error_rates_real.py`` measures
    the split on real models). ``STRONG_EFFECT`` is a strongly learned isotope: its
    mean log-probability sits ~2.9 natural spreads above external marks (measured:
    "about three") and its paired p-value against one external mark at n = 25 is
    ~1e-6 (measured: 8e-7 to 1e-8).
    """

    label_effect_sd: float = 0.85  # natural label-specific effect of a mark, per label
    disruption_mean: float = 1.0  # blending any mark hides some of the image's own class
    disruption_sd: float = 0.85  # ... by an amount that differs between marks
    noise_sd: float = 1.0  # image × mark noise, per label
    image_sd: float = 1.0  # per-image base logits
    confidence: float = 4.0  # logit advantage of an image's own class
    tail_df: float | None = None  # Student-t natural effects (heavy tails) when set


STRONG_EFFECT = 3.3
"""Planted logit effect of a strongly learned isotope under the default ``MockSpec``."""


def _normal(rng: np.random.Generator, shape: tuple[int, ...], df: float | None) -> np.ndarray:
    """Standard normal draws, or unit-variance Student-t draws when ``df`` is set."""
    if df is None:
        return rng.standard_normal(shape)
    if df <= 2:
        raise ValueError(f"tail_df must be > 2 (finite variance), got {df}")
    return rng.standard_t(df, shape) / np.sqrt(df / (df - 2))


def draw_mark_effects(
    spec: MockSpec, rng: np.random.Generator, n_marks: int, n_labels: int
) -> tuple[np.ndarray, np.ndarray]:
    """Natural effects of ``n_marks`` marks: (label effects (M, L), disruptions (M,))."""
    effects = spec.label_effect_sd * _normal(rng, (n_marks, n_labels), spec.tail_df)
    disruption = spec.disruption_mean + spec.disruption_sd * _normal(rng, (n_marks,), spec.tail_df)
    return effects, disruption


def draw_images(
    spec: MockSpec, rng: np.random.Generator, classes: np.ndarray, n_labels: int
) -> np.ndarray:
    """Base logits (N, L) of images whose own classes are ``classes`` (N,)."""
    base = spec.image_sd * rng.standard_normal((len(classes), n_labels))
    base[np.arange(len(classes)), classes] += spec.confidence
    return base


def compose_logits(
    base: np.ndarray,
    classes: np.ndarray,
    effects: np.ndarray | None,
    disruption: np.ndarray | None,
    noise: np.ndarray,
) -> np.ndarray:
    """Logits of images blended with marks.

    ``base`` (N, L) and ``classes`` (N,) describe the images; ``effects`` (L,) and
    ``disruption`` (scalar) one mark, or None for clean images; ``noise`` (N, L).
    Planted effects are added by the caller.
    """
    logits = base + noise
    if effects is not None:
        logits = logits + effects
        logits[np.arange(len(classes)), classes] -= disruption
    return logits


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """Log-probabilities along the last axis."""
    shifted = logits - logits.max(axis=-1, keepdims=True)
    return shifted - np.log(np.exp(shifted).sum(axis=-1, keepdims=True))


def seeded_rng(*parts: object) -> np.random.Generator:
    """A generator seeded by a hash of ``parts`` (stable across runs and platforms)."""
    digest = hashlib.sha256("\x1f".join(str(p) for p in parts).encode()).digest()
    return np.random.default_rng(int.from_bytes(digest[:16], "little"))


class MockClassifier:
    """A simulated image classifier (implements ``providers.classifier.Classifier``).

    It never looks at pixels: ``QueryImage.base`` (or, without one, the image digest)
    picks the image, ``QueryImage.mark`` (a mark fingerprint, None when clean) the
    mark. ``planted`` maps a mark fingerprint to (label, logit effect): the isotopes
    this model learned. ``mode`` chooses the output: every label, the top ``k``, or
    the labels whose probability is at least ``threshold``.
    """

    provider = "mock"
    max_batch = 64
    max_concurrency = 4

    def __init__(
        self,
        labels: Sequence[str],
        *,
        seed: int = 0,
        planted: Mapping[str, tuple[str, float]] | None = None,
        spec: MockSpec | None = None,
        mode: OutputMode | str = OutputMode.FULL,
        k: int | None = None,
        threshold: float | None = None,
    ) -> None:
        self._labels = [str(label) for label in labels]
        if len(self._labels) < 2 or len(set(self._labels)) != len(self._labels):
            raise ValueError(f"the mock needs at least 2 distinct labels, got {self._labels}")
        self.seed = int(seed)
        self.spec = spec or MockSpec()
        self.mode = OutputMode(mode)
        self.planted: dict[str, tuple[int, float]] = {}
        for fingerprint, (label, effect) in (planted or {}).items():
            if label not in self._labels:
                raise ValueError(f"planted label {label!r} is not one of {self._labels}")
            self.planted[fingerprint] = (self._labels.index(label), float(effect))
        if self.mode is OutputMode.TOP_K and not (k and 1 <= k <= len(self._labels)):
            raise ValueError(f"top_k output needs 1 <= k <= {len(self._labels)}, got {k}")
        if self.mode is OutputMode.THRESHOLD and not (threshold is not None and 0 < threshold < 1):
            raise ValueError(f"threshold output needs 0 < threshold < 1, got {threshold}")
        self.k = k if self.mode is OutputMode.TOP_K else None
        self.threshold = threshold if self.mode is OutputMode.THRESHOLD else None
        # The ledger keys on the target: two mocks that answer differently differ here.
        identity = json.dumps(
            [self._labels, sorted(self.planted.items()), asdict(self.spec)], default=str
        )
        self.target = f"mock-{self.seed}-{hashlib.sha256(identity.encode()).hexdigest()[:12]}"
        self.calls = 0  # classify calls, for tests of caching and batching

    @property
    def parameters(self) -> Mapping[str, object]:
        """Output mode and its cut-off: they change the reply."""
        return {"mode": self.mode.value, "k": self.k, "threshold": self.threshold}

    def labels(self) -> list[str]:
        """Every label of the simulated model."""
        return list(self._labels)

    def model_identity(self) -> str:
        """The mock's configuration digest: two mocks that answer differently differ."""
        return self.target

    def log_probs(self, image: QueryImage) -> np.ndarray:
        """The full log-probability vector the model assigns to ``image``."""
        n_labels = len(self._labels)
        base_id = image.base if image.base is not None else image.digest
        image_rng = seeded_rng("image", self.seed, base_id)
        classes = image_rng.integers(0, n_labels, size=1)
        base = draw_images(self.spec, image_rng, classes, n_labels)
        noise = self.spec.noise_sd * seeded_rng(
            "noise", self.seed, base_id, image.mark
        ).standard_normal((1, n_labels))
        effects = disruption = None
        if image.mark is not None:
            effects, disruption = draw_mark_effects(
                self.spec, seeded_rng("mark", self.seed, image.mark), 1, n_labels
            )
            effects, disruption = effects[0], disruption[0]
        logits = compose_logits(base, classes, effects, disruption, noise)[0]
        if image.mark in self.planted:
            label_index, effect = self.planted[image.mark]
            logits[label_index] += effect
        return log_softmax(logits)

    def classify(self, images: Sequence[QueryImage]) -> list[Scores]:
        """Score each image as the configured output mode would return it."""
        self.calls += 1
        return [self._scores(np.exp(self.log_probs(image))) for image in images]

    def _scores(self, probs: np.ndarray) -> Scores:
        order = np.argsort(-probs, kind="stable")
        keep: list[int] = [int(i) for i in order]
        if self.mode is OutputMode.TOP_K:
            keep = keep[: self.k]
        elif self.mode is OutputMode.THRESHOLD:
            keep = [i for i in keep if probs[i] >= (self.threshold or 0.0)]
        values = {self._labels[i]: float(probs[i]) for i in keep}
        return Scores(
            values=values, mode=self.mode, k=self.k, threshold=self.threshold, model=self.target
        )
