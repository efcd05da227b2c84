"""External marks ``t'``: marks the person never posted, the null the true mark is judged by.

Fresh external marks are procedural, with seeds derived from the true mark's
fingerprint: unpredictable to anyone without the mark, yet the same on every run, so
an interrupted audit resumes with the same externals and pays nothing twice.
"""

from __future__ import annotations

import hashlib

from marks.distance import MIN_DISTANCE, linf_distance
from marks.kinds import make_mark
from marks.mark import Mark, MarkKind

_MAX_TRIES = 20  # per external: a procedural seed far enough from every other mark


def _seed(mark: Mark, index: int, attempt: int) -> int:
    text = f"{mark.fingerprint}:external:{index}:{attempt}"
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little") >> 1


def fresh_externals(
    mark: Mark, count: int, *, avoid: list[Mark] | None = None
) -> tuple[list[Mark], list[str]]:
    """``count`` procedural external marks for ``mark``, and notes for the report.

    Each is at least ``marks.distance.MIN_DISTANCE`` (normalized L∞) from the true
    mark and from ``avoid``, so no external is a near-copy of a real mark. (Two
    procedural marks from different seeds are far apart by construction, ~0.97.)
    """
    notes: list[str] = []
    if count > 0 and mark.kind is not MarkKind.PROCEDURAL:
        notes.append(
            f"the true mark is a {mark.kind.value} mark but the {count} generated external "
            "marks are procedural; their spread may differ from that of marks like yours "
            "(pass held marks of the same kind with --external for a like-for-like null)"
        )
    chosen: list[Mark] = []
    others = [mark, *(avoid or [])]
    for index in range(count):
        for attempt in range(_MAX_TRIES):
            candidate = make_mark(
                f"external-{index + 1}", MarkKind.PROCEDURAL, seed=_seed(mark, index, attempt)
            )
            if all(linf_distance(candidate, o) >= MIN_DISTANCE for o in others):
                break
        else:
            notes.append(f"external-{index + 1} is closer than {MIN_DISTANCE} to a held mark")
        chosen.append(candidate)
    return chosen, notes
