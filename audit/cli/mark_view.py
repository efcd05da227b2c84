"""What ``isotope marks list|show|new`` may show of a held mark: nothing that rebuilds it.

A mark's seed rebuilds it exactly, and its fingerprint lets anyone confirm a guess of
it (or of its external marks' old seeds), so neither is ever shown; nor are its
parameters (where a sticker or square sits), a photo's size or file name (which photo
of a pool it is). Shown: name, kind, purpose, α, dates, the public commitment, the
family its external marks come from, and warnings (a guessable seed).
"""

from __future__ import annotations

from audit.inputs.externals import external_family
from marks.mark import MarkKind
from marks.purposes import DEFAULT_ALPHA, GENERAL
from marks.secret_seed import WEAK_SEED_ADVICE, is_weak
from marks.store import MarkStore

_SOURCES = {
    "pool": "the other photos of its pool",
    "generator": "fresh draws of its own generator",
    "procedural": "procedural marks, not of its family",
}


def public_record(store: MarkStore, name: str) -> dict:
    """Mark ``name``'s record without secrets: no seed, fingerprint, salt, parameters, paths."""
    record = store.info(name)
    mark = store.get(name)
    commitment = record["commitment"]
    family = external_family(mark, record)
    externals: dict = {"source": family.source, "exact": family.exchangeable}
    if isinstance(record.get("pool"), dict):
        externals["pool_size"] = record["pool"].get("size")
    if not family.exchangeable:
        externals["reason"] = family.reason
    weak = is_weak(record["kind"], record.get("seed"))
    shown: dict = {
        "name": record["name"],
        "kind": record["kind"],
        "purpose": record.get("purpose") or GENERAL.name,
        "default_alpha": store.default_alpha(name) or DEFAULT_ALPHA,
        "posted_alpha": store.posted_alpha(name),
        "created": record.get("created"),
        "commitment": {"scheme": commitment.get("scheme"), "value": commitment["value"]},
        "externals": externals,
        "weak_seed": weak,
        "warnings": [f"mark {name!r}: {WEAK_SEED_ADVICE}"] if weak else [],
    }
    if record["kind"] != MarkKind.BLEND.value:  # a photo's size could say which photo
        shown["size"] = [record.get("width"), record.get("height")]
    return shown


def externals_text(externals: dict) -> str:
    """One line on where a mark's external marks come from and whether p is exact."""
    source = _SOURCES.get(externals["source"], externals["source"])
    if externals.get("pool_size"):
        source += f" ({externals['pool_size'] - 1} externals)"
    if externals["exact"]:
        return f"{source}: exact p-values"
    return f"{source}: p-values not exact ({externals.get('reason', '')})"


def show_lines(shown: dict) -> list[str]:
    """``marks show``'s lines, ``key: value``."""
    lines = [
        f"name: {shown['name']}",
        f"kind: {shown['kind']}",
        f"purpose: {shown['purpose']}",
        f"alpha: {shown['default_alpha']:g} (what `isotope mark` blends with unless --alpha)",
    ]
    if "size" in shown:
        lines.append(f"size: {shown['size'][0]}x{shown['size'][1]}")
    posted = shown["posted_alpha"]
    lines += [
        f"posted alpha: {'not posted yet' if posted is None else f'{posted:g}'}",
        f"created: {shown['created']}",
        f"external marks: {externals_text(shown['externals'])}",
    ]
    commitment = shown["commitment"]
    salt = f"; salt {commitment['salt']}" if "salt" in commitment else ""
    lines.append(f"commitment: {commitment['value']} ({commitment['scheme']}{salt})")
    lines += [f"warning: {warning}" for warning in shown["warnings"]]
    return lines
