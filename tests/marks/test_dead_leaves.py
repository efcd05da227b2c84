"""Dead-leaves marks: deterministic from any seed, distinct, fast, and the right shape."""

from __future__ import annotations

import hashlib
import time

import numpy as np
import pytest

from marks.dead_leaves import MIN_RADIUS, dead_leaves, disc_count, make_dead_leaves
from marks.distance import MIN_DISTANCE, linf_distance
from marks.mark import Mark, MarkKind


def _digest(pixels: np.ndarray) -> str:
    return hashlib.sha256(np.round(pixels * 255).astype(np.uint8).tobytes()).hexdigest()


def _mark(seed: int) -> Mark:
    pixels, mask, params = make_dead_leaves(seed)
    return Mark(name=str(seed), kind=MarkKind.PROCEDURAL, pixels=pixels, mask=mask, params=params)


def test_shape_range_and_params() -> None:
    pixels, mask, params = make_dead_leaves(7)
    assert pixels.shape == (256, 256, 3) and pixels.dtype == np.float32
    assert mask.shape == (256, 256) and mask.dtype == np.float32 and mask.min() == 1.0
    assert pixels.min() >= 0.0 and pixels.max() <= 1.0
    # Quantized to 8-bit levels: the stored mark is exactly what was generated.
    levels = pixels.astype(np.float64) * 255
    assert np.allclose(levels, np.round(levels), atol=1e-3)
    assert params["generator"] == "dead_leaves/1" and params["discs"] == disc_count(256)
    assert params["min_radius"] == MIN_RADIUS


def test_same_seed_same_pixels_on_every_platform() -> None:
    # Golden digests: a change here changes every person's family of externals, so the
    # generator's version (params["generator"]) must change with it.
    assert _digest(make_dead_leaves(20251130)[0]) == (
        "6f4c371a3e4561f1db8723ace72b535949fbeb1a7220de6c79d61a1b25e67bd7"
    )
    assert _digest(make_dead_leaves(2**127 + 3, size=64)[0]) == (
        "b3dfa0e0aed395919fc2e945502b19fb99b3445bb1a8dcf620c9ddc538bec3fd"
    )


def test_big_seeds_are_accepted_and_bad_ones_refused() -> None:
    big = 2**200 + 12345  # wider than any seed ``secrets`` gives today
    assert np.array_equal(make_dead_leaves(big)[0], make_dead_leaves(big)[0])
    assert not np.array_equal(make_dead_leaves(big)[0], make_dead_leaves(big + 1)[0])
    for bad in (-1, 1.5, True, "3"):
        with pytest.raises(ValueError, match="seed"):
            make_dead_leaves(bad)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="min_radius"):
        dead_leaves(np.random.default_rng(0), min_radius=0.5)
    with pytest.raises(ValueError, match="size"):
        dead_leaves(np.random.default_rng(0), size=4)


def test_members_are_distinct_and_stay_distinct_at_model_size() -> None:
    marks = [_mark(seed) for seed in (11, 12, 13, 14)]
    for i, a in enumerate(marks):
        for b in marks[i + 1 :]:
            assert linf_distance(a, b) >= MIN_DISTANCE
            small_a, _ = a.resized(32, 32)
            small_b, _ = b.resized(32, 32)
            assert np.abs(small_a - small_b).mean() > 0.15  # of the 0-1 range


def test_many_colours_and_discs_of_many_sizes() -> None:
    pixels, _, _ = make_dead_leaves(5)
    colours = np.unique(np.round(pixels * 255).astype(np.uint8).reshape(-1, 3), axis=0)
    assert len(colours) >= 30  # ~120 discs, most of them visible somewhere
    # Coarse and fine structure: large flat areas and edges between them.
    edges = np.any(np.abs(np.diff(pixels, axis=1)) > 0, axis=-1).mean()
    assert 0.01 < edges < 0.2


def _colour_clusters(pixels: np.ndarray, radius: float = 90) -> int:
    """Greedy count of colour groups whose members lie within ``radius`` levels."""
    left = np.unique(np.round(pixels * 255).reshape(-1, 3), axis=0)
    groups = 0
    while len(left):
        left = left[np.abs(left - left[0]).max(axis=1) > radius]
        groups += 1
    return groups


def test_palette_variant_uses_few_base_colours() -> None:
    rng = np.random.default_rng(3)
    # Three base colours (jitter sd 12 levels) plus the background.
    assert _colour_clusters(dead_leaves(rng, palette=3)[0]) <= 4
    assert _colour_clusters(make_dead_leaves(3)[0]) > 8


def test_fast_enough_for_hundreds_of_externals() -> None:
    make_dead_leaves(0)  # warm-up
    started = time.process_time()
    for seed in range(20):
        make_dead_leaves(2**127 + seed)
    per_mark = (time.process_time() - started) / 20
    assert per_mark < 0.05  # ~4 ms on one core when measured
