"""The blend formula x ⊕ (t, m, α) = α·t[m] + (1−α)·x[m], checked pixel by pixel."""

from __future__ import annotations

import numpy as np
import pytest

from marks.blend import blend, check_alpha
from marks.kinds import make_mark
from marks.mark import Mark, MarkKind


def _mark(pixels: np.ndarray, mask: np.ndarray) -> Mark:
    return Mark(name="m", kind=MarkKind.SQUARE, pixels=pixels, mask=mask)


def test_pixel_values_match_formula() -> None:
    t = np.zeros((4, 4, 3), np.float32)
    t[..., 0] = 1.0  # pure red mark
    mask = np.zeros((4, 4), np.float32)
    mask[:2] = 1.0  # top half blended
    x = np.full((4, 4, 3), 100, np.uint8)
    out = blend(x, _mark(t, mask), 0.4)
    # 0.4*255 + 0.6*100 = 162; 0.4*0 + 0.6*100 = 60
    assert out[0, 0].tolist() == [162, 60, 60]
    assert out[3, 3].tolist() == [100, 100, 100]  # outside the mask: untouched


def test_matches_exact_formula_within_one_level() -> None:
    mark = make_mark("p", "procedural", seed=3)
    x = np.random.default_rng(0).integers(0, 256, (40, 30, 3), dtype=np.uint8)
    pixels, mask = mark.resized(40, 30)
    for alpha in (0.1, 0.4, 1.0):
        exact = alpha * mask[..., None] * pixels * 255 + (1 - alpha * mask[..., None]) * x
        # The engine rounds half up (ties are common with decimal α).
        diff = np.abs(blend(x, mark, alpha).astype(float) - np.floor(exact + 0.5))
        assert diff.max() <= 1
        assert (diff == 0).mean() > 0.99


def test_alpha_one_gives_the_mark() -> None:
    mark = make_mark("p", "procedural", seed=4)
    x = np.zeros((256, 256, 3), np.uint8)
    out = blend(x, mark, 1.0)
    assert np.abs(out.astype(int) - np.rint(mark.pixels * 255)).max() <= 1


def test_input_never_modified_and_fresh_output() -> None:
    mark = make_mark("p", "procedural", seed=5)
    x = np.random.default_rng(1).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    before = x.copy()
    first = blend(x, mark, 0.4)
    second = blend(x, mark, 0.4)
    assert np.array_equal(x, before)
    assert first is not second and not np.shares_memory(first, x)
    # Blending the external mark on a clean copy: no trace of the first mark remains.
    other = make_mark("q", "procedural", seed=6)
    clean_other = blend(x, other, 0.4)
    assert np.array_equal(clean_other, blend(before, other, 0.4))


def test_batch_equals_single() -> None:
    mark = make_mark("p", "procedural", seed=8)
    batch = np.random.default_rng(2).integers(0, 256, (3, 20, 24, 3), dtype=np.uint8)
    out = blend(batch, mark, 0.4)
    assert out.shape == batch.shape
    for i in range(3):
        assert np.array_equal(out[i], blend(batch[i], mark, 0.4))


@pytest.mark.parametrize("alpha", [0.0, -0.1, 1.01, float("nan")])
def test_alpha_outside_range_refused(alpha: float) -> None:
    with pytest.raises(ValueError, match=r"alpha must be in \(0, 1\]"):
        check_alpha(alpha)


def test_wrong_dtype_refused() -> None:
    mark = make_mark("p", "procedural", seed=9)
    with pytest.raises(ValueError, match="uint8 RGB"):
        blend(np.zeros((4, 4, 3), np.float32), mark, 0.4)


@pytest.mark.parametrize("kind", ["procedural", "square", "pixels"])
@pytest.mark.parametrize("alpha", [0.1, 0.4, 1.0])
def test_every_kind_within_one_level_and_unmasked_exact(kind: str, alpha: float) -> None:
    # Full-cover marks take the scalar path, masked ones the per-pixel path.
    mark = make_mark("m", kind, seed=2)
    x = np.random.default_rng(3).integers(0, 256, (30, 41, 3), dtype=np.uint8)
    before = x.copy()
    pixels, mask = mark.resized(30, 41)
    weight = alpha * mask[..., None]
    exact = weight * pixels * 255 + (1 - weight) * x
    out = blend(x, mark, alpha).astype(int)
    assert np.abs(out - exact).max() <= 1
    assert np.array_equal(x, before)  # input untouched
    outside = mask == 0
    assert np.array_equal(out[outside], x[outside])  # unmasked pixels exact


def test_soft_mask_weight_is_alpha_times_mask() -> None:
    pixels = np.ones((8, 8, 3), np.float32)
    mask = np.full((8, 8), 0.5, np.float32)
    soft = Mark(name="soft", kind=MarkKind.BLEND, pixels=pixels, mask=mask)
    x = np.zeros((8, 8, 3), np.uint8)
    out = blend(x, soft, 0.4)
    assert np.abs(out.astype(int) - 51).max() <= 1  # 0.4 * 0.5 * 255 = 51
