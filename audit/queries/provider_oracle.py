"""A ``ScoreOracle`` over a real (ledgered) classifier.

Each query blends one mark into one clean auxiliary image (never on top of another
blend), encodes it, asks the classifier, checks the reply, and turns it into the
statistic verifiers test: a log-probability for full output, minus the rank of the
label (K+1 when absent) for top-K or threshold output, or, for threshold output
(a tagger), the label's confidence with 0 when the service did not return it.

Every statistic is one fixed function of one reply, applied alike to the replies of
the true mark and of every external mark on the same images: if the model never
learned the mark, the marks' statistics stay exchangeable and a rank p-value over
them stays exact, however the replies are truncated.

An open vocabulary (a tagger that does not list its tags) is scored on the union of
the tags returned for the audit's own queries: a set that is the same whichever mark
is the true one, so choosing the labels this way keeps the marks exchangeable too.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Sequence

import numpy as np

from audit.errors import UnknownLabelError
from audit.inputs.aux_images import AuxImages
from audit.queries.oracle import CLEAN, TRUE_MARK, Indices, SurrogateScores
from marks.blend import blend
from marks.mark import Mark
from providers.classifier import Classifier
from providers.errors import BadReplyError
from providers.query import QueryImage
from providers.scores import OutputMode, Scores

LOG_PROB = "log_prob"
NEG_RANK = "neg_rank"
CONFIDENCE = "confidence"
"""The label's confidence, 0 when absent: for threshold output, where absent means 'below
the service's cut-off'. Zero-inflated, so only the rank calibration is valid on it."""
STATISTICS = (LOG_PROB, NEG_RANK, CONFIDENCE)
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
    ``statistic`` is ``log_prob``, ``neg_rank`` or ``confidence`` (see the module
    docstring). With ``open_vocabulary`` the scored labels start as ``labels`` and grow,
    after each query, by the tags its replies returned (new ones appended in sorted
    order, so a label's index never changes): read ``labels`` after querying.
    ``returned`` holds every label any reply has carried.

    The pairs of each ``query`` are sent in an order shuffled by ``order_seed`` (fresh
    random when None; the report records it), so every request mixes marks: the true
    mark's queries never go out as one block that a traffic split or a model update
    between requests could set apart from the externals', and the service cannot tell
    the true mark from the order either.

    ``surrogate`` (``audit.queries.oracle.SurrogateScores``) is carried for verifiers
    that adjust by the person's own local models; it never sees these replies.
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
        open_vocabulary: bool = False,
        exchangeable: bool,
        order_seed: int | None = None,
        surrogate: SurrogateScores | None = None,
    ) -> None:
        if statistic not in STATISTICS:
            raise ValueError(f"statistic must be one of {STATISTICS}, got {statistic!r}")
        if not marks:
            raise ValueError("an oracle needs at least the true mark")
        self.classifier = classifier
        self.aux = aux
        self.marks = list(marks)
        self.alpha = alpha
        self.labels = list(labels)
        self.statistic = statistic
        self.exchangeable = exchangeable  # the runner's claim about the externals (ScoreOracle)
        self.surrogate = surrogate  # the person's local models on the same pairs, or None
        self.open_vocabulary = open_vocabulary
        self.returned: set[str] = set()
        self._replies: dict[tuple[int, int], Scores] = {}  # kept to rescore new labels
        self.n_images = len(aux)
        self.n_external = len(self.marks) - 1
        self._cache: dict[tuple[int, int], np.ndarray] = {}
        self.order_seed = secrets.randbits(63) if order_seed is None else int(order_seed)
        self._order = np.random.default_rng(self.order_seed)

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
        todo = [todo[i] for i in self._order.permutation(len(todo))]
        block: list[tuple[tuple[int, int], QueryImage]] = []
        size = 0
        for index, pair in enumerate(todo):
            query = self._encode(*pair)
            block.append((pair, query))
            size += len(query.data)
            if size >= BLOCK_BYTES or index == len(todo) - 1:
                replies = self.classifier.classify([q for _, q in block])
                self._learn_labels(replies)
                for ((a, b), _), reply in zip(block, replies, strict=True):
                    self._cache[(a, b)] = self._statistic(reply, a, b)
                    if self.open_vocabulary:
                        self._replies[(a, b)] = reply
                block, size = [], 0
        out = np.empty((len(marks), len(images), len(self.labels)), dtype=np.float64)
        for i, a in enumerate(marks):
            for k, b in enumerate(images):
                out[i, k] = self._cache[(a, b)]
        return out

    def _learn_labels(self, replies: Sequence[Scores]) -> None:
        """Note the labels ``replies`` carry; with an open vocabulary, score new ones too."""
        seen = {label for reply in replies for label in reply.values}
        self.returned |= seen
        if not self.open_vocabulary:
            return
        new = sorted(seen - set(self.labels))
        if not new:
            return
        self.labels.extend(new)
        for (a, b), reply in self._replies.items():
            self._cache[(a, b)] = self._statistic(reply, a, b)

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
        if self.statistic == CONFIDENCE:
            return self._confidences(reply, mark, image)
        if reply.mode is OutputMode.THRESHOLD:
            raise self._bad(
                mark,
                image,
                "the service returned only the labels above its threshold, not every "
                f"label's probability; score it with statistic {CONFIDENCE!r}",
            )
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

    def _confidences(self, reply: Scores, mark: int, image: int) -> np.ndarray:
        """Each label's score, 0 where the reply does not carry it."""
        values = np.zeros(len(self.labels))
        for index, label in enumerate(self.labels):
            value = reply.get(label)
            if value is None:
                continue
            if not (math.isfinite(value) and -1e-9 <= value <= 1.0 + SUM_TOLERANCE):
                raise self._bad(mark, image, f"label {label!r} has confidence {value!r}")
            values[index] = value
        return values
