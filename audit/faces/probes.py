"""The probes of a face audit: the originals of the photos a person marked and posted.

By default they come from the newest marking manifest of the audited mark in the
store (``isotope mark`` wrote it): the marked files' originals, the α they were
marked with and whether metadata was kept, so each probe rebuilt with the true mark
reproduces the posted copy byte for byte (``marks.reproduce``). ``--probes DIR``
gives the originals directly. Originals are only read; their paths never reach a
report.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from audit.errors import AuditInputError
from marks.errors import ImageError
from marks.folder_scan import scan_images
from marks.mark import Mark
from marks.regular_file import read_regular
from marks.reproduce import marked_copy
from marks.store import MarkStore
from providers.query import QueryImage

_MIME = ((b"\xff\xd8", "image/jpeg"), (b"\x89PNG", "image/png"), (b"RIFF", "image/webp"))


def mime_type(data: bytes) -> str:
    """The MIME type of encoded image bytes (by their signature)."""
    for signature, mime in _MIME:
        if data.startswith(signature):
            return mime
    return "application/octet-stream"


@dataclass(frozen=True)
class Probe:
    """One original photo whose marked copy was posted.

    ``posted_sha256`` is the posted copy's digest when a manifest recorded it: the
    probe rebuilt with the true mark is checked against it.
    """

    source: Path
    keep_metadata: bool = False
    posted_sha256: str | None = None

    def original(self) -> bytes:
        """The original's bytes (``ImageError`` when it cannot be read)."""
        return read_regular(self.source)

    def image(self, mark: Mark | None, alpha: float) -> QueryImage:
        """The probe: the original blended with ``mark`` at ``alpha`` and encoded as
        ``isotope mark`` encodes marked copies; the original itself for ``mark`` None."""
        data = self.original()
        if mark is not None:
            keep = self.keep_metadata
            data = marked_copy(self.source, mark, alpha, keep_metadata=keep, data=data)
        return QueryImage(data=data, mime_type=mime_type(data))


@dataclass
class ProbeSet:
    """The probes of an audit, the α their marked copies were posted with, and notes."""

    probes: list[Probe]
    alpha: float
    origin: str  # "manifest" or "folder"
    notes: list[str] = field(default_factory=list)

    def check_reproduction(self, mark: Mark, count: int) -> int:
        """How many of the first ``count`` probes rebuilt with ``mark`` are byte for byte
        the posted copies their manifest recorded (probes without a record are skipped)."""
        same = 0
        for probe in self.probes[:count]:
            if probe.posted_sha256 is None:
                continue
            data = probe.image(mark, self.alpha).data
            same += hashlib.sha256(data).hexdigest() == probe.posted_sha256
        return same


def _marking_manifests(store: MarkStore, mark: Mark) -> list[dict]:
    return [
        manifest
        for manifest in store.manifests()
        if manifest.get("type") == "marking"
        and manifest.get("mark", {}).get("name") == mark.name
        and manifest.get("mark", {}).get("fingerprint") == mark.fingerprint
    ]


def probes_from_manifest(store: MarkStore, mark: Mark) -> ProbeSet:
    """The originals of the copies marked with ``mark`` in its newest marking manifest.

    Raises ``AuditInputError`` when the store holds no marking with this mark or none
    of its originals can still be read (then pass ``--probes DIR``).
    """
    manifests = _marking_manifests(store, mark)
    if not manifests:
        raise AuditInputError(
            f"the store holds no marking made with mark {mark.name!r}: mark your photos with "
            "`isotope mark` first, or give the originals of the photos you posted with "
            "--probes DIR"
        )
    manifest = manifests[-1]
    source_dir = Path(str(manifest.get("source_dir", "")))
    keep = bool(manifest.get("keep_metadata", False))
    probes: list[Probe] = []
    seen: set[str] = set()
    missing = 0
    for entry in manifest.get("files", []):
        if not entry.get("marked"):
            continue
        digest = entry.get("source_sha256")
        if digest in seen:
            continue  # identical originals were posted as identical copies: one probe
        seen.add(digest)
        path = source_dir / str(entry["source"])
        if not path.is_file():
            missing += 1
            continue
        probes.append(Probe(path, keep, entry.get("output_sha256")))
    notes = []
    if missing:
        notes.append(
            f"{missing} original(s) of marked photos are no longer in the marking's source "
            "folder and were left out"
        )
    if not probes:
        raise AuditInputError(
            f"none of the originals of the photos marked with {mark.name!r} can be found in "
            f"the marking's source folder ({missing} missing): give them with --probes DIR"
        )
    if not manifest.get("complete", True):
        notes.append("the newest marking with this mark did not finish; its marked files are used")
    return ProbeSet(probes, float(manifest["alpha"]), "manifest", notes)


def probes_from_folder(folder: Path, alpha: float) -> ProbeSet:
    """Every image in ``folder``: the originals of photos posted marked at ``alpha``.

    Raises ``AuditInputError`` for a folder without images.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise AuditInputError(f"--probes {folder} is not a folder")
    rels = scan_images(folder)[0]
    if not rels:
        raise AuditInputError(f"--probes {folder} holds no images")
    return ProbeSet([Probe(folder / rel) for rel in rels], alpha, "folder")


def readable(probes: list[Probe]) -> tuple[list[Probe], int]:
    """The probes whose original can be read, and how many could not."""
    kept = []
    for probe in probes:
        try:
            probe.original()
        except ImageError:
            continue
        kept.append(probe)
    return kept, len(probes) - len(kept)
