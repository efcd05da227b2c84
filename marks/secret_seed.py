"""Secret seeds for new marks, and the test that flags marks with guessable ones.

A procedural, dead-leaves, square or pixels mark is rebuilt exactly from its seed, so the seed is as
secret as the mark. Seeds come from ``secrets`` with ``SEED_BITS`` bits: too many to
try. Older versions drew 31-bit seeds; anyone holding the mark's fingerprint (or a
commitment and its salt) could try them all in an afternoon, so such marks are flagged.
"""

from __future__ import annotations

import secrets

from marks.mark import MarkKind

SEED_BITS = 128
WEAK_BELOW = 2**64
"""A seed under this is flagged: no seed drawn by ``new_seed`` is ever this small in practice
(a chance of 2**-64), and every seed of the old 31-bit scheme is."""
SEEDED_KINDS = frozenset(
    {MarkKind.PROCEDURAL, MarkKind.DEAD_LEAVES, MarkKind.SQUARE, MarkKind.PIXELS}
)
"""Kinds whose seed alone rebuilds the mark (blend and overlay marks are their photo)."""
WEAK_SEED_ADVICE = (
    "its seed is small enough to be guessed (older versions drew such seeds), so anyone who "
    "tries every seed can rebuild the mark: make a new mark with `isotope marks new` (no "
    "--seed) and post that one instead"
)


def new_seed() -> int:
    """A fresh secret seed of ``SEED_BITS`` bits (numpy's generators take it whole)."""
    return secrets.randbits(SEED_BITS)


def is_weak(kind: MarkKind | str, seed: object) -> bool:
    """True when a mark of ``kind`` is rebuilt by ``seed`` and the seed can be guessed."""
    if MarkKind(kind) not in SEEDED_KINDS:
        return False
    return isinstance(seed, int) and not isinstance(seed, bool) and seed < WEAK_BELOW
