"""Every mark kind: deterministic from its seed, distinct across seeds, the right mask."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from marks.distance import MIN_DISTANCE, linf_distance
from marks.kinds import make_mark
from marks.mark import MarkKind


@pytest.mark.parametrize("kind", ["dead_leaves", "procedural", "square", "pixels"])
def test_seeded_kinds_are_deterministic_and_distinct(kind: str) -> None:
    a = make_mark("a", kind, seed=1)
    assert a.fingerprint == make_mark("b", kind, seed=1).fingerprint
    other = make_mark("c", kind, seed=2)
    assert a.fingerprint != other.fingerprint
    assert linf_distance(a, other) >= MIN_DISTANCE


def test_procedural_is_strong_and_multiscale() -> None:
    mark = make_mark("p", MarkKind.PROCEDURAL, seed=11)
    pixels = mark.pixels
    assert pixels.shape == (256, 256, 3) and mark.mask.min() == 1.0
    assert pixels.min() >= 0.0 and pixels.max() <= 1.0
    assert (pixels.std(axis=(0, 1)) > 0.2).all()  # strong contrast in every channel
    # Structure at coarse and fine scales: the 8x8 block means vary (coarse) and the
    # pixels vary within blocks (fine).
    blocks = pixels.reshape(32, 8, 32, 8, 3)
    assert blocks.mean(axis=(1, 3)).std() > 0.15
    assert blocks.std(axis=(1, 3)).mean() > 0.03
    # Colour, not grey: channels differ.
    assert np.abs(pixels[..., 0] - pixels[..., 1]).mean() > 0.1
    # Still distinct from another seed after downscaling to CIFAR size.
    small = [
        np.asarray(Image.fromarray((m.pixels * 255).astype(np.uint8)).resize((32, 32)), float)
        for m in (mark, make_mark("q", "procedural", seed=12))
    ]
    assert np.abs(small[0] - small[1]).mean() > 40


def test_blend_and_overlay_need_an_image(tmp_path: Path, kit) -> None:
    with pytest.raises(ValueError, match="needs an image"):
        make_mark("b", "blend", seed=0)
    with pytest.raises(ValueError, match="takes no image"):
        make_mark("p", "procedural", seed=0, image=tmp_path / "x.png")
    with pytest.raises(ValueError, match="unknown mark kind"):
        make_mark("p", "sparkles", seed=0)


def test_blend_mark_is_the_photo(tmp_path: Path, kit) -> None:
    picture = kit.photo(30, 40, seed=3)
    mark = make_mark("b", "blend", seed=0, image=kit.save(tmp_path / "p.png", picture))
    assert mark.mask.min() == 1.0
    assert np.array_equal(np.round(mark.pixels * 255).astype(np.uint8), picture)


def test_overlay_mask_is_binary_from_alpha(tmp_path: Path, kit) -> None:
    sticker = np.zeros((20, 20, 4), np.uint8)
    sticker[..., :3] = (250, 10, 10)
    sticker[5:15, 5:15, 3] = 255  # opaque centre, transparent border
    mark = make_mark("o", "overlay", seed=5, image=kit.save(tmp_path / "s.png", sticker))
    assert set(np.unique(mark.mask)) == {0.0, 1.0}
    covered = mark.mask.mean()
    assert 0.005 < covered < 0.0625  # inside a quarter-side box, only the opaque part
    assert np.allclose(mark.pixels[mark.mask == 1.0][:, 0], 250 / 255, atol=0.02)


def test_square_and_pixels_masks() -> None:
    square = make_mark("s", "square", seed=3)
    ys, xs = np.nonzero(square.mask)
    assert ys.max() - ys.min() + 1 == xs.max() - xs.min() + 1 == square.params["side"]
    pixels = make_mark("x", "pixels", seed=3)
    assert 0.05 < pixels.mask.mean() < 0.15


def test_dead_leaves_kind_is_the_generator_and_seeded() -> None:
    from marks.dead_leaves import make_dead_leaves
    from marks.secret_seed import SEEDED_KINDS

    mark = make_mark("d", MarkKind.DEAD_LEAVES, seed=2**100 + 3)
    pixels, mask, params = make_dead_leaves(2**100 + 3)
    assert np.array_equal(mark.pixels, pixels) and np.array_equal(mark.mask, mask)
    assert mark.params["generator"] == params["generator"] == "dead_leaves/1"
    # Rebuilt from its seed alone, so fresh seeds give same-family externals.
    assert MarkKind.DEAD_LEAVES in SEEDED_KINDS
    with pytest.raises(ValueError, match="takes no image"):
        make_mark("d", "dead_leaves", seed=1, image=Path("x.png"))


def test_general_purpose_defaults_to_dead_leaves_and_faces_keeps_procedural() -> None:
    from marks.purposes import FACES, GENERAL

    assert GENERAL.kind is MarkKind.DEAD_LEAVES
    assert FACES.kind is MarkKind.PROCEDURAL
