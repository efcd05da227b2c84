"""External marks ``t'``: marks the person never posted, the null the true mark is judged by.

The rank of the true mark among its externals is an exact p-value only when, under the
null hypothesis, it is exchangeable with them: drawn from the same family, the same
way. So externals are, by the true mark's kind:

- dead_leaves, procedural, square, pixels: fresh draws of the same generator;
- blend or overlay made with ``marks new --pool``: a secret random subset of the pool's
  other photos (the mark was drawn at random from the pool);
- blend or overlay without a pool: procedural marks. Not its family, so the result is
  labelled not exact, with the reason.

Generated externals come from a secret key kept in the store per (mark, family)
(``marks.external_seeds``), never from anything about the mark: whoever learns the mark's
fingerprint still cannot regenerate them, and a resumed audit draws the same ones (its
queries come from the ledger). External marks the person picks (``--external``) make
the result not exact too: nothing says they are of the mark's family. Every external is
at least ``MIN_DISTANCE`` from the audited marks; one that is not is refused.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from audit.errors import AuditInputError, ExternalTooCloseError
from marks import external_seeds
from marks.distance import MIN_DISTANCE, linf_distance
from marks.errors import MarkingError
from marks.external_seeds import external_seed, family_key
from marks.kinds import make_mark
from marks.mark import Mark, MarkKind
from marks.secret_seed import SEEDED_KINDS
from marks.store import MarkStore

_MAX_TRIES = 20  # per external: a fresh draw far enough from the audited marks
POOL_FAMILY = "pool"


@dataclass(frozen=True)
class ExternalSet:
    """The external marks of an audit and whether the true mark is exchangeable with them.

    ``reason`` is "" when ``exchangeable``, else why the p-value is not exact (one or
    more sentences a person can act on). ``notes`` go to the report.
    """

    marks: list[Mark]
    exchangeable: bool
    reason: str = ""
    notes: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class ExternalFamily:
    """Where a mark's fresh externals come from: ``pool``, ``generator`` or ``procedural``.

    ``exchangeable`` is False (with ``reason``) when they are not of the mark's family.
    """

    source: str
    exchangeable: bool
    reason: str = ""


def external_family(mark: Mark, record: dict | None) -> ExternalFamily:
    """The family fresh externals of ``mark`` (store record ``record``, if held) come from."""
    if record is not None and isinstance(record.get("pool"), dict):
        return ExternalFamily(POOL_FAMILY, True)
    if mark.kind in SEEDED_KINDS:
        problem = _not_reproduced(mark)
        if problem:
            return ExternalFamily(
                "generator",
                False,
                f"your {mark.kind.value} mark {problem}, so fresh draws of today's generator "
                "are not of its family; make a new mark for exact p-values",
            )
        return ExternalFamily("generator", True)
    return ExternalFamily(
        "procedural",
        False,
        f"your {mark.kind.value} mark was not drawn from a photo pool, so its external marks "
        "are procedural, not of its own family; make it with `isotope marks new NAME "
        f"--kind {mark.kind.value} --pool DIR` for exact p-values",
    )


def _not_reproduced(mark: Mark) -> str:
    if mark.seed is None:
        return "records no seed"
    try:
        again = make_mark(mark.name, mark.kind, seed=mark.seed)
    except MarkingError:
        return "records an unusable seed"
    if again.fingerprint != mark.fingerprint:
        return "was made by an older version of its generator"
    return ""


def _too_close(candidate: Mark, audited: Sequence[Mark]) -> tuple[Mark, float] | None:
    for other in audited:
        distance = linf_distance(candidate, other)
        if candidate.fingerprint == other.fingerprint or distance < MIN_DISTANCE:
            return other, distance
    return None


def _refuse(external: Mark, other: Mark, distance: float) -> ExternalTooCloseError:
    how = (
        "identical to"
        if external.fingerprint == other.fingerprint
        else f"within normalized L∞ {distance:.3f} of"
    )
    return ExternalTooCloseError(
        f"external mark {external.name!r} is {how} the audited mark {other.name!r}; an "
        f"external must be at least {MIN_DISTANCE} away, or it stands in for the mark "
        "itself: pick another external mark"
    )


def generated_externals(
    kind: MarkKind, key: bytes, count: int, *, audited: Sequence[Mark]
) -> tuple[list[Mark], int]:
    """``count`` fresh marks of ``kind`` drawn from secret ``key``, and how many were redrawn.

    A draw within ``MIN_DISTANCE`` of a mark in ``audited`` is redrawn (never seen for
    these kinds: two draws are ~0.97 apart); ``ExternalTooCloseError`` after
    ``_MAX_TRIES`` draws.
    """
    chosen: list[Mark] = []
    redrawn = 0
    for index in range(count):
        for attempt in range(_MAX_TRIES):
            candidate = make_mark(
                f"external-{index + 1}", kind, seed=external_seed(key, index, attempt)
            )
            near = _too_close(candidate, audited)
            if near is None:
                chosen.append(candidate)
                break
            redrawn += 1
        if near is not None:
            raise _refuse(candidate, *near)
    return chosen, redrawn


def _held_record(mark: Mark, store: MarkStore | None) -> dict | None:
    if store is None or mark.name not in store:
        return None
    record = store.info(mark.name)
    return record if record["fingerprint"] == mark.fingerprint else None


def _key(mark: Mark, store: MarkStore | None, family: str, notes: list[str]) -> bytes:
    if store is not None and (mark.name not in store or _held_record(mark, store)):
        return family_key(store, mark, family)
    why = "no store was given" if store is None else "the store holds another mark of its name"
    notes.append(
        f"the external marks were drawn for this run only ({why}): a repeated or resumed "
        "audit draws new ones and pays for their queries again"
    )
    return external_seeds.new_key()


def _from_pool(
    mark: Mark, store: MarkStore, needed: int, audited: Sequence[Mark], notes: list[str]
) -> list[Mark]:
    pool = store.pool_externals(mark.name) or []
    if needed > len(pool):
        raise AuditInputError(
            f"mark {mark.name!r} was drawn from a pool of {len(pool) + 1} photos, so it has "
            f"{len(pool)} external marks and this audit asks for {needed}: pass --externals "
            f"{len(pool)} or fewer (or make a mark from a larger pool)"
        )
    # A secret random subset: a fixed one (say the first few) could single the mark out.
    key = _key(mark, store, POOL_FAMILY, notes)
    order = np.random.default_rng(int.from_bytes(key, "little")).permutation(len(pool))
    chosen = []
    for position, index in enumerate(order[:needed]):
        external = pool[int(index)]
        near = _too_close(external, audited)
        if near is not None:
            raise _refuse(external, *near)
        chosen.append(
            Mark(f"external-{position + 1}", external.kind, external.pixels, external.mask)
        )
    return chosen


def choose_externals(
    mark: Mark,
    count: int,
    *,
    store: MarkStore | None,
    held: Sequence[Mark] = (),
    avoid: Sequence[Mark] = (),
) -> ExternalSet:
    """The ``count`` external marks of an audit of ``mark``, and their exchangeability.

    ``held`` are external marks the person picked (used first, all of them); fresh ones
    of ``mark``'s family fill up to ``count``. ``avoid`` are the other audited marks
    (a distinguisher's second mark). ``store`` keeps the secret keys fresh externals are
    drawn from (None: drawn for this run only). Raises ``ExternalTooCloseError`` for an
    external identical to or within ``MIN_DISTANCE`` of an audited mark, and
    ``AuditInputError`` when a pool mark's pool is too small for ``count``.
    """
    audited = [mark, *avoid]
    for external in held:
        near = _too_close(external, audited)
        if near is not None:
            raise _refuse(external, *near)
    notes: list[str] = []
    reasons: list[str] = []
    needed = max(0, count - len(held))
    fresh: list[Mark] = []
    record = _held_record(mark, store)
    family = external_family(mark, record)
    if needed:
        if family.source == POOL_FAMILY:
            assert store is not None  # a pool is only known from a held record
            fresh = _from_pool(mark, store, needed, audited, notes)
        else:
            kind = mark.kind if family.source == "generator" else MarkKind.PROCEDURAL
            key = _key(mark, store, kind.value, notes)
            fresh, redrawn = generated_externals(kind, key, needed, audited=[*audited, *held])
            if redrawn:
                notes.append(f"{redrawn} external draws too close to your marks were redrawn")
        if not family.exchangeable:
            reasons.append(family.reason)
    if held:
        reasons.append(
            f"{len(held)} external mark(s) were picked by you (--external), not drawn at "
            "random with your mark from one family"
        )
    if count <= 0 and not held:
        reasons.append("there are no external marks to rank your mark against")
    return ExternalSet([*held, *fresh], not reasons, "; ".join(reasons), notes)
