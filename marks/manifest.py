"""Manifests: the private record of what was marked, with what, and how.

A manifest is JSON in the store (never in an upload folder). ``SCHEMA_VERSION`` is
bumped whenever a field changes meaning.
"""

from __future__ import annotations

from datetime import UTC, datetime
from importlib import metadata

from marks.mark import Mark

SCHEMA_VERSION = 1


def tool_version() -> str:
    """The installed isotope-audit version, or ``"unknown"`` when run from a bare tree."""
    try:
        return metadata.version("isotope-audit")
    except metadata.PackageNotFoundError:
        return "unknown"


def manifest_header(kind: str, mark: Mark | None, record: dict | None) -> dict:
    """Fields every manifest starts with: type, schema, tool version, time, the mark.

    ``record`` is the mark's store record; only the public commitment value is copied
    (the salt stays in the mark's own record).
    """
    header: dict = {
        "type": kind,
        "schema_version": SCHEMA_VERSION,
        "tool": "isotope-audit",
        "tool_version": tool_version(),
        "created": datetime.now(UTC).isoformat(timespec="microseconds"),
    }
    if mark is not None:
        header["mark"] = {
            "name": mark.name,
            "kind": mark.kind.value,
            "seed": mark.seed,
            "fingerprint": mark.fingerprint,
        }
        if record and "commitment" in record:
            header["commitment"] = {
                "scheme": record["commitment"]["scheme"],
                "value": record["commitment"]["value"],
            }
    return header
