"""A ``ScoreOracle`` over a real (ledgered) classifier.

Each query blends one mark into one clean auxiliary image (never on top of another
blend), encodes it, asks the classifier, checks the reply, and turns it into the
statistic verifiers test: a log-probability for full output, minus the rank of the
label (K+1 when absent) for top-K or threshold output.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from audit.errors import UnknownLabelError
from audit.inputs.aux_images import AuxImages
from audit.queries.oracle import CLEAN, TRUE_MARK, Indices
from marks.blend import blend
from marks.mark import Mark
from providers.classifier import Classifier
from providers.errors import BadReplyError
from providers.query import QueryImage
from providers.scores import OutputMode, Scores

LOG_PROB = "log_prob"
NEG_RANK = "neg_rank"
MIN_PROB = 1e-6
"""Probabilities are clipped here before the log: a service's 0.0 is 'tiny', not −∞."""
SUM_TOLERANCE = 0.02
"""Full output must sum to 1 within this (services round their probabilities)."""
BLOCK_BYTES = 128 * 2**20
"""Encoded bytes per classify call. Usually one call holds a whole query, so the ledger
reserves its budget all at once (no round half-paid); the cap bounds memory when the
auxiliary images are large."""


def _describe_mark(index: int) -> str:
    if index == CLEAN:
        return "no mark"
    return "the true mark" if index == TRUE_MARK else f"external mark {index}"


def discover_labels(classifier: Classifier, aux: AuxImages) -> list[str]:
    """The model's labels: from the classifier, else from one clean full-output reply."""
    labels = classifier.labels()
    if labels:
        return list(labels)
    reply = classifier.classify([QueryImage.from_array(aux.images[0], base=aux.ids[0])])[0]
    if reply.mode is not OutputMode.FULL:
        raise UnknownLabelError(
            "the provider does not list its labels and returns only "
            f"{reply.mode.value} output; cannot check the label"
        )
    return sorted(reply.values)


def check_label(label: str, labels: Sequence[str]) -> None:
    """Raise ``UnknownLabelError`` unless ``label`` is one of ``labels``."""
    if label not in labels:
        shown = ", ".join(list(labels)[:20]) + (" ..." if len(labels) > 20 else "")
        raise UnknownLabelError(
            f"label {label!r} is not one of the model's {len(labels)} labels ({shown})"
        )


class ProviderOracle:
    """Scores of marked auxiliary images from ``classifier`` (see ``audit.queries.oracle``).

    ``marks[0]`` is the true mark, ``marks[1:]`` the external marks. Every (mark, image)
    pair is computed once per oracle; repeats across runs are free through the ledger.
    """

    def __init__(
        self,
        classifier: Classifier,
        aux: AuxImages,
        marks: Sequence[Mark],
        alpha: float,
        *,
        labels: Sequence[str],
        statistic: str = LOG_PROB,
    ) -> None:
        if statistic not in (LOG_PROB, NEG_RANK):
            raise ValueError(f"statistic must be {LOG_PROB!r} or {NEG_RANK!r}, got {statistic!r}")
        if not marks:
            raise ValueError("an oracle needs at least the true mark")
        self.classifier = classifier
        self.aux = aux
        self.marks = list(marks)
        self.alpha = alpha
        self.labels = list(labels)
        self.statistic = statistic
        self.n_images = len(aux)
        self.n_external = len(self.marks) - 1
        self._cache: dict[tuple[int, int], np.ndarray] = {}

    def queries_used(self) -> int:
        """Distinct (mark, image) pairs answered so far."""
        return len(self._cache)

    def query(self, marks: Indices, images: Indices) -> np.ndarray:
        """Statistics of shape (len(marks), len(images), len(labels))."""
        for mark in marks:
            if mark != CLEAN and not 0 <= mark < len(self.marks):
                raise IndexError(f"mark index {mark} out of range (0..{len(self.marks) - 1})")
        for image in images:
            if not 0 <= image < self.n_images:
                raise IndexError(f"image index {image} out of range (0..{self.n_images - 1})")
        todo = list(
            dict.fromkeys((a, b) for a in marks for b in images if (a, b) not in self._cache)
        )
        block: list[tuple[tuple[int, int], QueryImage]] = []
        size = 0
        for index, pair in enumerate(todo):
            query = self._encode(*pair)
            block.append((pair, query))
            size += len(query.data)
            if size >= BLOCK_BYTES or index == len(todo) - 1:
                replies = self.classifier.classify([q for _, q in block])
                for ((a, b), _), reply in zip(block, replies, strict=True):
                    self._cache[(a, b)] = self._statistic(reply, a, b)
                block, size = [], 0
        out = np.empty((len(marks), len(images), len(self.labels)), dtype=np.float64)
        for i, a in enumerate(marks):
            for k, b in enumerate(images):
                out[i, k] = self._cache[(a, b)]
        return out

    def answered(self, label: str) -> dict[tuple[int, int], float]:
        """The statistic of ``label`` for every pair answered so far (for reports)."""
        index = self.labels.index(label)
        return {pair: float(values[index]) for pair, values in self._cache.items()}

    def _encode(self, mark: int, image: int) -> QueryImage:
        clean = self.aux.images[image]
        if mark == CLEAN:
            return QueryImage.from_array(clean, base=self.aux.ids[image])
        chosen = self.marks[mark]
        # Always from the clean copy: a pair's two images differ only in their mark.
        pixels = blend(clean, chosen, self.alpha)
        return QueryImage.from_array(pixels, base=self.aux.ids[image], mark=chosen.fingerprint)

    def _bad(self, mark: int, image: int, problem: str) -> BadReplyError:
        provider = getattr(self.classifier, "provider", "provider")
        return BadReplyError(
            f"reply for auxiliary image {self.aux.names[image]} with {_describe_mark(mark)}: "
            f"{problem}",
            provider=provider,
            operation=f"{provider} classify",
        )

    def _statistic(self, reply: Scores, mark: int, image: int) -> np.ndarray:
        if self.statistic == NEG_RANK:
            return np.array([-float(reply.rank(label)) for label in self.labels])
        if reply.mode is not OutputMode.FULL:
            raise self._bad(
                mark,
                image,
                f"the service returned {reply.mode.value} output, not every label's "
                "probability; audit it with `isotope audit rank`",
            )
        values = np.empty(len(self.labels))
        for index, label in enumerate(self.labels):
            value = reply.get(label)
            if value is None:
                raise self._bad(mark, image, f"label {label!r} is missing")
            if not (math.isfinite(value) and -1e-9 <= value <= 1.0 + SUM_TOLERANCE):
                raise self._bad(mark, image, f"label {label!r} has probability {value!r}")
            values[index] = value
        total = float(sum(reply.values.values()))
        if abs(total - 1.0) > SUM_TOLERANCE:
            raise self._bad(
                mark, image, f"probabilities sum to {total:.4f}, not 1 (±{SUM_TOLERANCE})"
            )
        return np.log(np.clip(values, MIN_PROB, 1.0))
