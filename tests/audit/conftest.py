"""Fakes for the audit infrastructure tests: a scripted classifier and image folders."""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from providers.query import QueryImage
from providers.scores import OutputMode, Scores

LABELS = ["cat", "dog", "ship"]


def fake_probs(image: QueryImage, labels: Sequence[str]) -> dict[str, float]:
    """Deterministic probabilities from the image digest (the same image, the same reply)."""
    seed = int.from_bytes(hashlib.sha256(image.data).digest()[:8], "little")
    raw = np.random.default_rng(seed).random(len(labels)) + 0.1
    raw /= raw.sum()
    return {label: float(p) for label, p in zip(labels, raw, strict=True)}


class FakeClassifier:
    """A thread-safe scripted classifier that records what it was asked.

    ``reply(image)`` builds each Scores (default: ``fake_probs``, full output);
    ``fail(call_number)`` may raise before a call is answered; ``delay`` sleeps in
    every call so concurrency shows.
    """

    provider = "fake"

    def __init__(
        self,
        labels: Sequence[str] = LABELS,
        *,
        max_batch: int = 4,
        max_concurrency: int = 1,
        delay: float = 0.0,
        reply: Callable[[QueryImage], Scores] | None = None,
        fail: Callable[[int], None] | None = None,
        known_labels: bool = True,
    ) -> None:
        self._labels = list(labels)
        self.target = "fake-model"
        self.max_batch = max_batch
        self.max_concurrency = max_concurrency
        self.delay = delay
        self._reply = reply or (lambda image: Scores(fake_probs(image, self._labels)))
        self._fail = fail
        self._known = known_labels
        self.calls = 0
        self.sent: list[QueryImage] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self._lock = threading.Lock()

    @property
    def parameters(self) -> Mapping[str, object]:
        return {"mode": "full"}

    def labels(self) -> list[str] | None:
        return list(self._labels) if self._known else None

    def model_identity(self) -> str | None:
        return None

    def classify(self, images: Sequence[QueryImage]) -> list[Scores]:
        with self._lock:
            self.calls += 1
            call = self.calls
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            if self._fail is not None:
                self._fail(call)
            if self.delay:
                time.sleep(self.delay)
            replies = [self._reply(image) for image in images]
            with self._lock:
                self.sent.extend(images)
            return replies
        finally:
            with self._lock:
                self.in_flight -= 1


def query_images(count: int, *, seed: int = 0) -> list[QueryImage]:
    """``count`` distinct small PNG query images."""
    rng = np.random.default_rng(seed)
    return [
        QueryImage.from_array(rng.integers(0, 256, (8, 8, 3), dtype=np.uint8), base=f"img{i}")
        for i in range(count)
    ]


def write_images(folder: Path, count: int, *, seed: int = 0, size: int = 16) -> list[Path]:
    """Write ``count`` random RGB PNGs into ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(count):
        path = folder / f"img{i:03d}.png"
        Image.fromarray(rng.integers(0, 256, (size, size, 3), dtype=np.uint8)).save(path)
        paths.append(path)
    return paths


# Test modules are imported with --import-mode=importlib, so helpers reach them as fixtures.


@pytest.fixture
def fake_classifier() -> type[FakeClassifier]:
    """The ``FakeClassifier`` class (call it with options)."""
    return FakeClassifier


@pytest.fixture
def make_query_images() -> Callable[..., list[QueryImage]]:
    """``make_query_images(count, seed=0)``."""
    return query_images


@pytest.fixture
def make_image_folder() -> Callable[..., list[Path]]:
    """``make_image_folder(folder, count, seed=0, size=16)``."""
    return write_images


@pytest.fixture
def top_k_scores() -> Callable[[QueryImage], Scores]:
    """A reply function giving top-2 output over ``LABELS``."""

    def reply(image: QueryImage) -> Scores:
        probs = fake_probs(image, LABELS)
        top = dict(sorted(probs.items(), key=lambda kv: -kv[1])[:2])
        return Scores(top, mode=OutputMode.TOP_K, k=2)

    return reply
