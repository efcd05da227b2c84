"""Seeds given by a person: whole numbers numpy's generators accept, checked up front."""

from __future__ import annotations

import numbers

from marks.errors import MarkingError

MAX_SEED = 2**128 - 1  # numpy takes any non-negative integer; this keeps manifests readable


def check_seed(seed: object, option: str = "--seed") -> int:
    """Return ``seed`` as an int if it is a whole number in [0, 2**128), else raise.

    The ``MarkingError`` (a ``ValueError``) names ``option``, the way a person gave it.
    """
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise MarkingError(f"{option} must be a whole number, got {seed!r}")
    if not 0 <= int(seed) <= MAX_SEED:
        raise MarkingError(f"{option} must be a whole number from 0 to 2**128-1, got {seed}")
    return int(seed)
