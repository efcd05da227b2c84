"""Normalized L∞ distance between marks (the paper's §5.4 distinctness measure).

Each mark's contribution ``m·t`` is area-averaged to a common 64×64 grid, then
``max |m₁·t₁ − m₂·t₂|`` over pixels and channels, on values in [0, 1]. Averaging first
keeps a single stray pixel from making two near-identical marks look far apart.
Marks closer than ``MIN_DISTANCE`` are not reliably distinguishable.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from PIL import Image

from marks.mark import Mark

MIN_DISTANCE = 0.4
GRID = 64


def contribution(mark: Mark) -> np.ndarray:
    """The mark's ``m·t`` area-averaged to GRID×GRID×3: what ``linf_distance`` compares.

    Not cached: for comparing many marks at once (a photo pool) without keeping them.
    """
    effective = mark.pixels * mark.mask[..., None]
    planes = [
        np.asarray(
            Image.fromarray(np.ascontiguousarray(effective[..., c]), "F").resize(
                (GRID, GRID), Image.Resampling.BOX
            )
        )
        for c in range(3)
    ]
    return np.stack(planes, axis=-1)


# Marks are immutable; a new mark is compared with every held one.
_contribution = lru_cache(maxsize=256)(contribution)


def linf_distance(a: Mark, b: Mark) -> float:
    """Normalized L∞ distance in [0, 1] between two marks (see module docstring)."""
    return float(np.max(np.abs(_contribution(a) - _contribution(b))))
