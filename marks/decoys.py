"""Decoy marks: fresh members of a mark's family that only the person's surrogates learn.

A decoy surrogate (``audit.surrogates``) is a model the person trains on their own
data with a *decoy* — a new, secret member of the true mark's family — blended into
label j as the isotope was. It learns how a model that learned *some* member of the
family treats every member, without knowing the true mark. The rank p-value of a
surrogate-adjusted audit stays exact only if no decoy is ever one of the audited
marks (the true mark or an external): a surrogate that learned an external would
single it out. So decoys are drawn from fresh 128-bit secret seeds, never from the
keys externals come from, and recorded here so that audits keep every external away
from them (``audit.inputs.externals``: the audited marks' distance check).

``externals/NAME.decoys.json`` (0600) holds the mark's fingerprint and, per surrogate
set (an id in the surrogate's manifest), the decoys' seeds. Seeds are secrets like a
mark's own: never printed, never in a surrogate's folder.
"""

from __future__ import annotations

import json
import secrets
from pathlib import Path

from marks.atomic import write_atomic
from marks.distance import MIN_DISTANCE, linf_distance
from marks.errors import StoreError
from marks.kinds import make_mark
from marks.mark import Mark
from marks.secret_seed import SEEDED_KINDS, new_seed
from marks.store import FILE_MODE, MarkStore, check_name

DECOYS_SUFFIX = ".decoys.json"
_MAX_TRIES = 20  # redraws of a decoy too close to the mark (never seen: draws are ~0.97 apart)


class DecoyError(StoreError):
    """Decoys cannot be drawn or read for this mark; the message says why."""


def _path(store: MarkStore, mark: Mark) -> Path:
    return store.externals() / f"{check_name(mark.name)}{DECOYS_SUFFIX}"


def _read(store: MarkStore, mark: Mark) -> dict:
    path = _path(store, mark)
    if not path.exists():
        return {}
    try:
        record = json.loads(store.read_private(path))
        if not isinstance(record, dict) or not isinstance(record.get("sets"), dict):
            raise ValueError("no sets")
        for seeds in record["sets"].values():
            if not isinstance(seeds, list) or not all(isinstance(s, str) for s in seeds):
                raise ValueError("bad seeds")
            for seed in seeds:
                int(seed, 16)  # ValueError when not hexadecimal
    except (ValueError, TypeError, UnicodeDecodeError):
        raise DecoyError(
            f"decoy record {path} is damaged; remove it and train the surrogates again "
            "(audits cannot otherwise keep their external marks away from the decoys)"
        ) from None
    return record if record.get("fingerprint") == mark.fingerprint else {}


def _decoy(mark: Mark, index: int, seed: int) -> Mark:
    return make_mark(f"surrogate-decoy-{index + 1}", mark.kind, seed=seed)


def check_decoyable(mark: Mark) -> None:
    """``DecoyError`` unless fresh members of ``mark``'s family come from seeds."""
    if mark.kind not in SEEDED_KINDS:
        kinds = ", ".join(sorted(k.value for k in SEEDED_KINDS))
        raise DecoyError(
            f"decoys are fresh members of the mark's family, and a {mark.kind.value} mark's "
            f"family is not generated from seeds (only {kinds} are): train a clean surrogate "
            "instead (--decoys 0 --clean)"
        )


def draw_decoys(store: MarkStore, mark: Mark, count: int) -> tuple[str, list[Mark]]:
    """``count`` fresh decoys of ``mark``'s family, recorded in the store before use.

    Returns the id of the new set and the decoys. Recorded first, so an audit keeps
    its externals away from them even if training stops half-way. ``DecoyError`` for
    a kind a seed does not rebuild (photo marks: a decoy would have to be a photo
    outside the pool, which nothing guarantees).
    """
    check_decoyable(mark)
    if count < 1:
        raise DecoyError(f"draw at least one decoy, got {count}")
    seeds: list[int] = []
    decoys: list[Mark] = []
    for index in range(count):
        for _ in range(_MAX_TRIES):
            seed = new_seed()
            decoy = _decoy(mark, index, seed)
            if linf_distance(decoy, mark) >= MIN_DISTANCE:
                break
        else:  # pragma: no cover - 20 draws all within the distance never happen
            raise DecoyError("could not draw a decoy far enough from the mark")
        seeds.append(seed)
        decoys.append(decoy)
    set_id = secrets.token_hex(8)
    with store.locked():
        record = _read(store, mark) or {
            "mark": mark.name,
            "fingerprint": mark.fingerprint,
            "sets": {},
        }
        record["sets"][set_id] = [format(seed, "x") for seed in seeds]
        write_atomic(
            _path(store, mark), json.dumps(record, indent=2).encode(), mode=FILE_MODE, fsync=True
        )
    return set_id, decoys


def decoys_of(store: MarkStore, mark: Mark, set_id: str | None = None) -> list[Mark]:
    """The decoys of ``mark`` (of one set, or of every set when ``set_id`` is None).

    A mark replaced under its name (``--force``) has none. ``DecoyError`` when
    ``set_id`` is not recorded in this store.
    """
    sets = _read(store, mark).get("sets", {})
    if set_id is not None and set_id not in sets:
        raise DecoyError(
            f"this store holds no decoys of mark {mark.name!r} with set id {set_id}: the "
            "surrogates were trained with another store or for a mark since replaced; "
            "train them again with this store (--store)"
        )
    chosen = [sets[set_id]] if set_id is not None else list(sets.values())
    return [_decoy(mark, i, int(seed, 16)) for seeds in chosen for i, seed in enumerate(seeds)]
