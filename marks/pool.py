"""Photo pools: a blend or overlay mark drawn at random from a folder of photos.

``isotope marks new NAME --kind blend --pool DIR`` checks every photo of DIR (readable,
not tiny, not a near-copy of another photo or of a held mark), then draws the mark
uniformly at random with ``secrets``; the other photos, made into marks exactly the same
way, are kept in the store as its external marks. Under the null hypothesis the model
never saw the drawn photo, so the mark is one of n photos treated alike and picked at
random: its statistic is exchangeable with the others', and its rank among them is an
exact p-value down to 1/n. The checks run before the draw, so which photos make up the
pool never depends on which one became the mark.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from marks.distance import GRID, MIN_DISTANCE, contribution
from marks.errors import ImageError, MarkingError, PoolError
from marks.folder_scan import require_dir, scan_images
from marks.imageio import read_image
from marks.kinds import make_mark
from marks.mark import Mark, MarkKind
from marks.secret_seed import new_seed

POOL_KINDS = frozenset({MarkKind.BLEND, MarkKind.OVERLAY})
MIN_SIDE = 64
"""Photos with a shorter side are left out: stretched over an image they are a blur."""
MIN_POOL = 20
"""Fewer usable photos are refused: the smallest p-value would be above 0.05."""
RECOMMENDED_POOL = 100
"""n photos give n−1 externals and a smallest p-value of 1/n: 100 reach p = 0.01."""
MAX_POOL = 1000
"""More image files are refused: every external is kept in the store (and in memory)."""


@dataclass(frozen=True)
class PoolPhoto:
    """One usable photo of a pool, made into a mark (uint8 pixels and mask, as stored)."""

    pixels: np.ndarray  # uint8 (H, W, 3)
    mask: np.ndarray  # uint8 (H, W)
    seed: int
    params: dict
    fingerprint: str

    def mark(self, name: str, kind: MarkKind) -> Mark:
        """This photo as a ``Mark`` named ``name`` (the fingerprint is unchanged)."""
        return Mark(
            name=name,
            kind=kind,
            pixels=self.pixels.astype(np.float32) / 255.0,
            mask=self.mask.astype(np.float32) / 255.0,
            seed=self.seed,
            params=dict(self.params),
        )


@dataclass(frozen=True)
class Skipped:
    """A file of the pool folder left out, and why."""

    path: Path
    reason: str


@dataclass(frozen=True)
class Pool:
    """The usable photos of a folder, in file order, and the files left out.

    ``held_copies`` counts photos left out for being (near-)copies of held marks; they
    are not named, since that would say which photo a held mark is.
    """

    kind: MarkKind
    photos: list[PoolPhoto]
    skipped: list[Skipped] = field(default_factory=list)
    held_copies: int = 0

    @property
    def smallest_p(self) -> float:
        """The smallest p-value an audit against every other photo can give: 1/n."""
        return 1.0 / len(self.photos)

    def warning(self) -> str | None:
        """Why the pool is too small for p ≤ 0.01, or None."""
        n = len(self.photos)
        if n >= RECOMMENDED_POOL:
            return None
        return (
            f"the pool has {n} usable photos, so an audit can never give a p-value below "
            f"1/{n} = {self.smallest_p:.3g}; {RECOMMENDED_POOL} photos reach p = 0.01"
        )


@dataclass(frozen=True)
class PoolDraw:
    """The mark drawn from a pool and the other photos, its external marks."""

    mark: Mark
    externals: list[PoolPhoto]

    @property
    def size(self) -> int:
        """Photos in the pool: the mark and its externals."""
        return len(self.externals) + 1


def _photo(path: Path, kind: MarkKind) -> tuple[PoolPhoto, np.ndarray] | str:
    """The photo at ``path`` made into a mark, and its distance grid; or why not."""
    try:
        height, width = read_image(path).rgb.shape[:2]
        if min(height, width) < MIN_SIDE:
            return f"too small ({width}x{height}; at least {MIN_SIDE} pixels a side)"
        mark = make_mark("pool", kind, seed=new_seed(), image=path)
    except (ImageError, MarkingError) as exc:
        return f"unreadable ({getattr(exc, 'problem', exc)})"
    photo = PoolPhoto(
        pixels=np.round(mark.pixels * 255).astype(np.uint8),
        mask=np.round(mark.mask * 255).astype(np.uint8),
        seed=int(mark.seed or 0),
        params=dict(mark.params),
        fingerprint=mark.fingerprint,
    )
    return photo, contribution(mark)


def build_pool(folder: Path, kind: MarkKind | str, *, avoid: Sequence[Mark] = ()) -> Pool:
    """Check every file of ``folder`` and return the usable, mutually distinct photos.

    Left out (listed in ``Pool.skipped``): non-image files, unreadable or tiny images,
    a photo within ``MIN_DISTANCE`` (normalized L∞) of an earlier photo; and, only
    counted in ``Pool.held_copies``, one that close to a mark in ``avoid`` (the held
    marks). Raises ``PoolError`` when fewer than ``MIN_POOL`` remain
    or the folder holds more than ``MAX_POOL`` images, ``MarkingError`` for a kind that
    is not a photo kind or a folder that does not exist.
    """
    kind = MarkKind(kind)
    if kind not in POOL_KINDS:
        raise MarkingError(
            f"a pool is for photo marks (blend or overlay); a {kind.value} mark draws its "
            "externals from its own generator"
        )
    folder = require_dir(folder, "pool folder")
    images, others = scan_images(folder)
    if len(images) > MAX_POOL:
        raise PoolError(
            f"pool folder {folder} holds {len(images)} images; a pool takes at most "
            f"{MAX_POOL} (enough for p = {1 / MAX_POOL:g}): use a folder with fewer"
        )
    skipped = [Skipped(rel, "not an image file") for rel in others]
    held = [contribution(mark) for mark in avoid]
    held_copies = 0
    kept: list[PoolPhoto] = []
    kept_names: list[Path] = []
    grids = np.empty((len(images), GRID, GRID, 3), np.float32)  # the kept photos' grids
    for rel in images:
        made = _photo(folder / rel, kind)
        if isinstance(made, str):
            skipped.append(Skipped(rel, made))
            continue
        photo, grid = made
        if _near_any(grid, held):
            held_copies += 1
            continue
        if kept:
            distances = np.abs(grids[: len(kept)] - grid).max(axis=(1, 2, 3))
            closest = int(np.argmin(distances))
            if distances[closest] < MIN_DISTANCE:
                skipped.append(Skipped(rel, f"a near-copy of {kept_names[closest]}"))
                continue
        grids[len(kept)] = grid
        kept.append(photo)
        kept_names.append(rel)
    if len(kept) < MIN_POOL:
        raise PoolError(
            f"pool folder {folder} has {len(kept)} usable distinct photos "
            f"({len(skipped)} left out); a pool needs at least {MIN_POOL}, and "
            f"{RECOMMENDED_POOL} for p-values down to 0.01"
        )
    return Pool(kind, kept, skipped, held_copies)


def _near_any(grid: np.ndarray, held: list[np.ndarray]) -> bool:
    return any(float(np.abs(other - grid).max()) < MIN_DISTANCE for other in held)


def draw(pool: Pool, name: str) -> PoolDraw:
    """Draw the mark named ``name`` uniformly at random (``secrets``); the rest are externals."""
    chosen = secrets.randbelow(len(pool.photos))
    return PoolDraw(
        mark=pool.photos[chosen].mark(name, pool.kind),
        externals=pool.photos[:chosen] + pool.photos[chosen + 1 :],
    )
