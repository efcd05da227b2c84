"""The face oracle sends its searches in a random order across marks.

Should the collection change while an audit's searches go out, a random order lets
the change reach the true mark's searches no more than any external's.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from audit.faces.oracle import FaceMatchOracle
from audit.faces.probes import Probe
from audit.faces.searcher import LedgeredFaceSearch
from audit.spending.ledger import Ledger
from marks.kinds import make_mark
from marks.mark import MarkKind
from providers.query import QueryImage
from providers.retry import RetryPolicy


class Recording:
    """Wraps a collection; remembers the digest of every image searched, in order."""

    def __init__(self, inner) -> None:  # type: ignore[no-untyped-def]
        self.inner = inner
        self.order: list[str] = []

    def __getattr__(self, name: str):  # type: ignore[no-untyped-def]
        return getattr(self.inner, name)

    def search(self, image: QueryImage, **options):  # type: ignore[no-untyped-def]
        self.order.append(image.digest)
        return self.inner.search(image, **options)


def test_searches_go_out_in_a_random_order_across_marks(tmp_path: Path, fake_collection) -> None:
    rng = np.random.default_rng(0)
    probes = []
    for i in range(3):
        path = tmp_path / f"p{i}.png"
        Image.fromarray(rng.integers(0, 255, (48, 48, 3), dtype=np.uint8)).save(path)
        probes.append(Probe(path))
    marks = [make_mark(f"m{k}", MarkKind.PROCEDURAL, seed=k) for k in range(8)]
    recording = Recording(fake_collection)
    searcher = LedgeredFaceSearch(
        recording,  # type: ignore[arg-type]
        Ledger.in_workspace(tmp_path / "ws"),
        model=fake_collection.model_identity(),
        max_faces=5,
        threshold=80.0,
        retry=RetryPolicy(sleep=lambda _s: None),
    )
    order = np.random.default_rng(5)
    oracle = FaceMatchOracle(
        searcher, probes, marks, 0.1, exchangeable=True, floor=80.0, order=order
    )
    oracle.query(list(range(8)), [0, 1, 2])
    true_mark = {probes[b].image(marks[0], 0.1).digest for b in range(3)}
    positions = [i for i, digest in enumerate(recording.order) if digest in true_mark]
    assert len(recording.order) == 24 and len(positions) == 3
    # Mark-major order would put them first, at 0, 1, 2.
    assert positions != [0, 1, 2] and max(positions) >= 3
