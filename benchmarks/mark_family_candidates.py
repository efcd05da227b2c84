"""Candidate mark families for the family-transfer experiments.

Each generator takes a numpy ``Generator`` and returns ``(pixels, mask, params)`` like
the generators in ``marks.kinds``: float32 (S, S, 3) pixels in [0, 1], a float32 (S, S)
mask of ones, and a small dict. The families are built to share as little learnable
style as possible between members (independent palettes, random structure), except
``gratings``, kept as a family *with* a strong shared style (periodic stripes) for
contrast. The winner is promoted to ``marks/``; the rest stay here as the record of
what was tried.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from PIL import Image, ImageDraw

from marks.dead_leaves import MAX_RADIUS, disc_count

SIZE = 256

Generated = tuple[np.ndarray, np.ndarray, dict]


def _palette(rng: np.random.Generator, values: np.ndarray, stops: int) -> np.ndarray:
    """Map ``values`` in [0, 1] through a piecewise-linear palette of random colours."""
    colours = rng.random((stops, 3))
    knots = np.sort(np.concatenate([[0.0, 1.0], rng.random(stops - 2)]))
    out = np.empty((*values.shape, 3), np.float32)
    for c in range(3):
        out[..., c] = np.interp(values, knots, colours[:, c])
    return out


def _rank_normalize(field: np.ndarray) -> np.ndarray:
    """Values in [0, 1] by their rank: every level of the field is used equally."""
    flat = field.ravel()
    ranks = np.empty(flat.size, np.float32)
    ranks[np.argsort(flat, kind="stable")] = np.linspace(0.0, 1.0, flat.size, dtype=np.float32)
    return ranks.reshape(field.shape)


_ACTIVATIONS: dict[str, Callable[[np.ndarray], np.ndarray]] = {
    "tanh": np.tanh,
    "sin": np.sin,
    "gauss": lambda v: np.exp(-(v**2)),
    "abs": np.abs,
    "softsign": lambda v: v / (1.0 + np.abs(v)),
    "relu": lambda v: np.maximum(v, 0.0),
}


def cppn(rng: np.random.Generator, size: int = SIZE) -> Generated:
    """A random compositional pattern network over (x, y, r) with an independent palette.

    Depth 2-5, width 12, a random activation per layer and random weight scale; two
    output fields: one is rank-normalized and coloured through a random 3-6 stop
    palette, the other modulates brightness.
    """
    side = 64  # the network is evaluated at 64x64 and upsampled: smooth fields alias nothing
    u = np.linspace(-1.0, 1.0, side, dtype=np.float32)
    x, y = np.meshgrid(u, u)
    shift = rng.uniform(-0.5, 0.5, 2)
    r = np.sqrt((x - shift[0]) ** 2 + (y - shift[1]) ** 2)
    h = np.stack([x, y, r, np.ones_like(x)], axis=-1).reshape(-1, 4)
    depth = int(rng.integers(2, 6))
    width = 12
    scale = rng.uniform(1.0, 3.0)
    names = list(_ACTIVATIONS)
    used = []
    fan_in = h.shape[1]
    for _ in range(depth):
        w = rng.standard_normal((fan_in, width)).astype(np.float32) * scale / np.sqrt(fan_in)
        name = names[int(rng.integers(len(names)))]
        used.append(name)
        h = _ACTIVATIONS[name](h @ w)
        fan_in = width
    out = h @ rng.standard_normal((width, 2)).astype(np.float32)
    fields = out.reshape(side, side, 2)
    colour = _palette(rng, _rank_normalize(fields[..., 0]), int(rng.integers(3, 7)))
    shade = _rank_normalize(fields[..., 1])
    pixels = colour * (0.6 + 0.4 * shade[..., None])
    image = Image.fromarray(np.round(pixels * 255).astype(np.uint8), "RGB")
    pixels = np.asarray(image.resize((size, size), Image.Resampling.BICUBIC), np.float32) / 255
    return pixels, np.ones((size, size), np.float32), {"size": size, "depth": depth, "act": used}


def gratings(rng: np.random.Generator, size: int = SIZE) -> Generated:
    """A sum of 3-6 oriented colour gratings (random frequency, phase, colour)."""
    u = np.linspace(0.0, 1.0, size, endpoint=False, dtype=np.float32)
    x, y = np.meshgrid(u, u)
    field = np.zeros((size, size, 3), np.float32)
    count = int(rng.integers(3, 7))
    for _ in range(count):
        freq = rng.uniform(1.0, 12.0)
        angle = rng.uniform(0, np.pi)
        phase = rng.uniform(0, 2 * np.pi)
        wave = np.sin(2 * np.pi * freq * (np.cos(angle) * x + np.sin(angle) * y) + phase)
        field += wave[..., None] * rng.uniform(-1, 1, 3).astype(np.float32)
    lo, hi = field.min(axis=(0, 1)), field.max(axis=(0, 1))
    pixels = (field - lo) / np.maximum(hi - lo, 1e-6)
    return pixels.astype(np.float32), np.ones((size, size), np.float32), {"count": count}


def shapes(rng: np.random.Generator, size: int = SIZE) -> Generated:
    """A scene of 4-12 large random shapes (ellipses, polygons) in independent colours."""
    background = tuple(int(v) for v in rng.integers(0, 256, 3))
    image = Image.new("RGB", (size, size), background)
    draw = ImageDraw.Draw(image)
    count = int(rng.integers(4, 13))
    for _ in range(count):
        colour = tuple(int(v) for v in rng.integers(0, 256, 3))
        cx, cy = rng.uniform(0, size, 2)
        radius = rng.uniform(0.1, 0.45) * size
        if rng.random() < 0.5:
            rx, ry = radius * rng.uniform(0.4, 1.0, 2)
            draw.ellipse((cx - rx, cy - ry, cx + rx, cy + ry), fill=colour)
        else:
            corners = int(rng.integers(3, 8))
            angles = np.sort(rng.uniform(0, 2 * np.pi, corners))
            radii = radius * rng.uniform(0.4, 1.0, corners)
            points = [
                (float(cx + r * np.cos(a)), float(cy + r * np.sin(a)))
                for a, r in zip(angles, radii, strict=True)
            ]
            draw.polygon(points, fill=colour)
    pixels = np.asarray(image, np.float32) / 255.0
    return pixels, np.ones((size, size), np.float32), {"count": count}


def dead_leaves_pil(
    rng: np.random.Generator,
    *,
    size: int = SIZE,
    palette: int | None = None,
    min_radius: float = 0.02,
) -> Generated:
    """Dead leaves as measured: the same draws as ``marks.dead_leaves``, drawn by PIL.

    ``marks.dead_leaves`` rasterizes the same discs with numpy (platform-independent):
    over 200 seeds at min radius 0.06, 1.3 % of pixels differ at 256 px (disc edges)
    and the 32 px versions differ by 0.95 grey levels on average (at most 1.3).
    """
    lo, hi = min_radius * size, MAX_RADIUS * size
    count = disc_count(size, min_radius)
    u = rng.random(count)
    radii = (lo**-2 - u * (lo**-2 - hi**-2)) ** -0.5
    centres = rng.uniform(-0.1 * size, 1.1 * size, (count, 2))
    if palette is None:
        colours = rng.integers(0, 256, (count, 3))
    else:
        base = rng.integers(0, 256, (palette, 3))
        pick = rng.integers(0, palette, count)
        colours = np.clip(base[pick] + rng.normal(0, 12, (count, 3)), 0, 255).astype(int)
    background = tuple(int(v) for v in rng.integers(0, 256, 3))
    image = Image.new("RGB", (size, size), background)
    draw = ImageDraw.Draw(image)
    for (cx, cy), r, colour in zip(centres.tolist(), radii.tolist(), colours.tolist(), strict=True):
        draw.ellipse((cx - r, cy - r, cx + r, cy + r), fill=tuple(colour))
    pixels = np.asarray(image, np.float32) / 255.0
    return pixels, np.ones((size, size), np.float32), {"size": size, "discs": count}


def leaves(rng: np.random.Generator, size: int = SIZE) -> Generated:
    """Dead leaves with fine discs (min radius 0.02 of the side)."""
    return dead_leaves_pil(rng, size=size)


GENERATORS: dict[str, Callable[[np.random.Generator], Generated]] = {
    "cppn": cppn,
    "gratings": gratings,
    "shapes": shapes,
    "dead_leaves": leaves,
}
