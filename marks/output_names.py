"""Where each source file lands in ``--out``, and refusing names that would collide.

A marked copy keeps its relative path when its format can hold a colour mark
(``KEPT_SUFFIXES``); anything else (GIF, PGM, ...) is written as PNG: ``a.gif`` becomes
``a.png``, or ``a.gif.png`` when a source ``a.png`` exists. An unmarked file copied
byte for byte keeps its own name. Every name a source may get is checked against
every other source's before anything is written, so two inputs never share an output.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from marks.errors import MarkingError
from marks.folder_scan import KEPT_SUFFIXES

_SHOWN = 10  # collisions listed in the message; the rest are counted


class OutputCollisionError(MarkingError):
    """Two or more source files would be written to the same path in ``--out``."""

    def __init__(self, collisions: dict[Path, list[Path]]) -> None:
        lines = [
            f"{' and '.join(str(s) for s in sources)} -> {target}"
            for target, sources in sorted(collisions.items())
        ]
        more = f"; and {len(lines) - _SHOWN} more" if len(lines) > _SHOWN else ""
        super().__init__(
            f"{len(lines)} output name(s) in --out would be shared by several source files "
            f"(formats that cannot hold a colour mark are written as PNG): "
            f"{'; '.join(lines[:_SHOWN])}{more}. Rename the sources so that each has its own "
            "output; nothing was written"
        )
        self.collisions = collisions


def encoded_name(rel: Path, taken: frozenset[Path]) -> Path:
    """The relative output path of ``rel`` when it is decoded and re-encoded."""
    if rel.suffix.lower() in KEPT_SUFFIXES:
        return rel
    renamed = rel.with_suffix(".png")
    # "a.gif" next to a real "a.png" becomes "a.gif.png" instead of overwriting it.
    return rel.with_name(rel.name + ".png") if renamed in taken else renamed


def possible_outputs(rel: Path, taken: frozenset[Path], *, reencode_all: bool) -> set[Path]:
    """Every output path ``rel`` may be written to, marked or not."""
    names = {encoded_name(rel, taken)}
    if not reencode_all:
        names.add(rel)  # an unmarked file is copied under its own name
    return names


def check_output_names(rels: list[Path], *, reencode_all: bool) -> None:
    """Raise ``OutputCollisionError`` naming every output two sources could share.

    Also refuses an output that is the name of a folder another source lives in.
    """
    taken = frozenset(rels)
    claims: dict[Path, set[Path]] = defaultdict(set)
    for rel in rels:
        for name in possible_outputs(rel, taken, reencode_all=reencode_all):
            claims[name].add(rel)
    folders = {parent for rel in rels for parent in rel.parents if parent != Path(".")}
    collisions = {target: sorted(sources) for target, sources in claims.items() if len(sources) > 1}
    for target, sources in claims.items():
        if target in folders:
            inside = next(rel for rel in rels if target in rel.parents)
            collisions[target] = sorted({*sources, inside})
    if collisions:
        raise OutputCollisionError(collisions)
