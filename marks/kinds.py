"""Making marks of each kind (``make_mark``).

Every kind is deterministic given its seed (and image). Masks: ``blend``,
``procedural`` and ``dead_leaves`` (``marks.dead_leaves``: overlapping discs of random
colours, the default kind) cover the whole image; ``overlay`` is a sticker with a binarized mask
(its alpha ≥ 50 %, or its whole box when it has no alpha); ``square`` is a square
patch of random-coloured cells; ``pixels`` scatters random-coloured cells over 10 % of
a 64×64 grid (cells, not single pixels, so the mark survives resizing).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from marks.dead_leaves import make_dead_leaves
from marks.errors import MarkingError
from marks.imageio import read_image
from marks.mark import Mark, MarkKind
from marks.seed import check_seed

PROCEDURAL_SIZE = 256
CANVAS_SIZE = 256
MAX_PHOTO_SIDE = 512  # blend photos are stored at most this large
OVERLAY_SHARE = 0.25  # sticker side as a share of the image side
SQUARE_SHARE = 0.2
SQUARE_CELLS = 6
PIXELS_GRID = 64
PIXELS_DENSITY = 0.1

_NEEDS_IMAGE = {MarkKind.BLEND, MarkKind.OVERLAY}


def make_mark(name: str, kind: MarkKind | str, *, seed: int, image: Path | None = None) -> Mark:
    """Create a mark named ``name`` of ``kind``.

    ``dead_leaves``, ``procedural``, ``square`` and ``pixels`` need only ``seed``; ``blend`` and
    ``overlay`` need ``image`` (the seed then places the overlay). Raises
    ``ValueError`` for an unknown kind or a missing/unneeded image, and
    ``marks.errors.ImageError`` for an unusable image.
    """
    try:
        kind = MarkKind(kind)
    except ValueError:
        choices = ", ".join(k.value for k in MarkKind)
        raise MarkingError(f"unknown mark kind {kind!r} (choose one of: {choices})") from None
    if kind in _NEEDS_IMAGE and image is None:
        raise MarkingError(f"a {kind.value} mark needs an image (--image PATH)")
    if kind not in _NEEDS_IMAGE and image is not None:
        raise MarkingError(f"a {kind.value} mark is generated from its seed; it takes no image")
    seed = check_seed(seed)
    rng = np.random.default_rng(seed)
    photo = None if image is None else Path(image)  # present exactly for _NEEDS_IMAGE
    if kind is MarkKind.DEAD_LEAVES:
        # Its own generator seeds itself from the same integer (one seed, one image).
        pixels, mask, params = make_dead_leaves(seed)
    elif kind is MarkKind.PROCEDURAL:
        pixels, mask, params = _procedural(rng)
    elif kind is MarkKind.BLEND and photo is not None:
        pixels, mask, params = _blend(photo)
    elif kind is MarkKind.OVERLAY and photo is not None:
        pixels, mask, params = _overlay(photo, rng)
    elif kind is MarkKind.SQUARE:
        pixels, mask, params = _square(rng)
    else:
        pixels, mask, params = _pixels(rng)
    # The photo's file name is not kept: it would say which photo of a pool is the mark.
    return Mark(name=name, kind=kind, pixels=pixels, mask=mask, seed=seed, params=params)


def _upsample(plane: np.ndarray, size: int) -> np.ndarray:
    image = Image.fromarray(plane.astype(np.float32), "F")
    return np.asarray(image.resize((size, size), Image.Resampling.BICUBIC), dtype=np.float32)


def _procedural(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, dict]:
    """Coarse coloured layout with folded contour bands, different for every seed.

    Octaves of 2×2 to 8×8 cells set a colour layout over the whole image; a random
    colour mixing matrix and per-channel sine folding turn it into many hues and
    contour bands, so the mark keeps edges at every scale yet survives downscaling
    to 32×32. Fine noise is left out on purpose: a model that learns one mark's fine
    texture also raises every other textured mark (measured: external procedural
    marks rose by ~1.5 log-probability units on the isotope's label, and the true
    mark led them by only ~2 spreads), whereas a coarse layout is specific to its
    seed (the lead rose to 5-6 spreads on the same data). It also keeps marked JPEGs
    close in size to unmarked ones.
    """
    size = PROCEDURAL_SIZE
    field = np.zeros((size, size, 3), np.float32)
    for cells in (2, 3, 4, 6, 8):
        weight = rng.uniform(0.5, 1.5) * cells**-0.35
        noise = rng.standard_normal((cells, cells, 3)).astype(np.float32)
        for c in range(3):
            field[..., c] += weight * _upsample(noise[..., c], size)
    field = field @ rng.uniform(-1, 1, (3, 3)).astype(np.float32)
    lo, hi = np.percentile(field, [1, 99], axis=(0, 1))
    field = (field - lo) / np.maximum(hi - lo, 1e-6)
    folds = rng.uniform(1.0, 3.0, 3).astype(np.float32)
    pixels = 0.5 + 0.5 * np.sin(np.pi * folds * field - np.pi / 2)
    mask = np.ones((size, size), np.float32)
    return pixels.astype(np.float32), mask, {"size": size}


def _fit(rgb: np.ndarray, max_side: int) -> Image.Image:
    image = Image.fromarray(rgb, "RGB")
    if max(image.size) > max_side:
        image.thumbnail((max_side, max_side), Image.Resampling.LANCZOS)
    return image


def _blend(path: Path) -> tuple[np.ndarray, np.ndarray, dict]:
    photo = _fit(read_image(path).rgb, MAX_PHOTO_SIDE)
    pixels = np.asarray(photo, dtype=np.float32) / 255.0
    return pixels, np.ones(pixels.shape[:2], np.float32), {}


def _overlay(path: Path, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, dict]:
    decoded = read_image(path)
    side = round(CANVAS_SIZE * OVERLAY_SHARE)
    # Scaled up or down so its longer side is a quarter of the image side.
    scale = side / max(decoded.rgb.shape[:2])
    width = max(1, round(decoded.rgb.shape[1] * scale))
    height = max(1, round(decoded.rgb.shape[0] * scale))
    sticker = Image.fromarray(decoded.rgb, "RGB").resize((width, height), Image.Resampling.LANCZOS)
    if decoded.alpha is not None:
        alpha = Image.fromarray(decoded.alpha, "L").resize((width, height))
        sticker_mask = (np.asarray(alpha) >= 128).astype(np.float32)
    else:
        sticker_mask = np.ones((height, width), np.float32)
    top = int(rng.integers(0, CANVAS_SIZE - height + 1))
    left = int(rng.integers(0, CANVAS_SIZE - width + 1))
    pixels = np.zeros((CANVAS_SIZE, CANVAS_SIZE, 3), np.float32)
    mask = np.zeros((CANVAS_SIZE, CANVAS_SIZE), np.float32)
    pixels[top : top + height, left : left + width] = np.asarray(sticker, np.float32) / 255.0
    mask[top : top + height, left : left + width] = sticker_mask
    return pixels, mask, {"top": top, "left": left, "height": height, "width": width}


def _square(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, dict]:
    side = round(CANVAS_SIZE * SQUARE_SHARE)
    cells = rng.random((SQUARE_CELLS, SQUARE_CELLS, 3)).astype(np.float32)
    cell = -(-side // SQUARE_CELLS)
    patch = np.kron(cells, np.ones((cell, cell, 1), np.float32))[:side, :side]
    top = int(rng.integers(0, CANVAS_SIZE - side + 1))
    left = int(rng.integers(0, CANVAS_SIZE - side + 1))
    pixels = np.zeros((CANVAS_SIZE, CANVAS_SIZE, 3), np.float32)
    mask = np.zeros((CANVAS_SIZE, CANVAS_SIZE), np.float32)
    pixels[top : top + side, left : left + side] = patch
    mask[top : top + side, left : left + side] = 1.0
    return pixels, mask, {"top": top, "left": left, "side": side}


def _pixels(rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, dict]:
    grid = PIXELS_GRID
    mask = (rng.random((grid, grid)) < PIXELS_DENSITY).astype(np.float32)
    pixels = rng.random((grid, grid, 3)).astype(np.float32) * mask[..., None]
    return pixels, mask, {"grid": grid, "density": PIXELS_DENSITY}
