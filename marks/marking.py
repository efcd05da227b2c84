"""Marking a folder: blend the mark into a seeded share of the images, copy the rest.

Selection: the candidate files (sorted relative paths) are put in the order of
``numpy.random.default_rng(seed).permutation``; the first ``k = max(1, round(p·N))``
(half up) distinct valid contents in that order are marked, where ``N`` counts distinct valid
contents. Identical files (same SHA-256) are all marked or all copied: posting a
clean and a marked copy of the same photo would let anyone subtract them and recover
the mark. The manifest lists the duplicate groups.

Work: every file is read and hashed once. Files provisionally selected are decoded,
blended (``marks.blend.blend``) and encoded (plain JPEGs through libjpeg-turbo,
``marks.jpeg_turbo``, which works without holding the GIL); the others are checked (a cheap
1/8-scale decode for JPEG) and copied byte for byte. When some
files turn out invalid the selection is recomputed and the few files whose state
changed are redone, so a clean folder costs exactly one pass. Outputs are written
atomically; sources are only read.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from marks.atomic import write_atomic
from marks.blend import blend, check_alpha
from marks.errors import ImageError, MarkingError, MarkingInterrupted
from marks.folder_scan import KEPT_SUFFIXES, check_out_dir, require_dir, scan_images
from marks.imageio import FALLBACK_FORMAT, check_image, encode_image, output_format, read_image
from marks.manifest import manifest_header
from marks.mark import Mark
from marks.store import MarkStore

Progress = Callable[[int, int], None]  # (files done, files total)


def check_fraction(fraction: float) -> float:
    """Return ``fraction`` if it lies in (0, 1], else raise ``MarkingError``."""
    if not (0.0 < fraction <= 1.0):
        raise MarkingError(f"fraction must be in (0, 1], got {fraction}")
    return float(fraction)


@dataclass(frozen=True)
class FileFailure:
    """A file that could not be used, with the reason."""

    path: str
    error: str


@dataclass
class MarkingResult:
    """What ``mark_folder`` did. ``manifest`` is the manifest's path in the store."""

    marked: int
    copied: int
    failed: list[FileFailure]
    skipped: list[str]
    duplicates: list[list[str]]
    manifest: Path
    out: Path
    seed: int

    def to_json(self) -> dict:
        """A JSON-ready summary (``marked``, ``copied``, ``failed``, ``manifest``, ...)."""
        return {
            "marked": self.marked,
            "copied": self.copied,
            "failed": [{"path": f.path, "error": f.error} for f in self.failed],
            "skipped": self.skipped,
            "duplicates": self.duplicates,
            "manifest": str(self.manifest),
            "out": str(self.out),
        }


@dataclass
class _File:
    rel: Path
    order: int  # position in the seeded permutation
    digest: str | None = None
    state: str = "pending"  # pending | marked | copied | failed
    error: str | None = None
    output: Path | None = None  # relative output path actually written
    output_digest: str | None = None


@dataclass(frozen=True)
class _Job:
    src: Path
    out: Path
    mark: Mark
    alpha: float
    keep_metadata: bool
    reencode_all: bool
    taken: frozenset[Path]  # every source's relative path


def _reencoded_name(rel: Path, taken: frozenset[Path]) -> Path:
    if rel.suffix.lower() in KEPT_SUFFIXES:
        return rel
    renamed = rel.with_suffix(".png")
    # "a.gif" next to a real "a.png" becomes "a.gif.png" instead of overwriting it.
    return rel.with_name(rel.name + ".png") if renamed in taken else renamed


def _encode_file(job: _Job, item: _File, *, marked: bool) -> None:
    source = job.src / item.rel
    data = _read(source)
    item.digest = hashlib.sha256(data).hexdigest()
    decoded = read_image(source, data)
    rel_out = _reencoded_name(item.rel, job.taken)
    # A renamed file is written as PNG whatever it held; otherwise its format is kept.
    fmt = FALLBACK_FORMAT if rel_out != item.rel else output_format(decoded.format)[0]
    keep = job.keep_metadata
    pixels = blend(decoded.rgb, job.mark, job.alpha) if marked else decoded.rgb
    encoded = encode_image(
        pixels,
        decoded.alpha,
        fmt,
        exif=decoded.exif if keep else None,
        xmp=decoded.xmp if keep else None,
        icc_profile=decoded.icc_profile,
    )
    write_atomic(job.out / rel_out, encoded)  # its folder was made before the workers started
    digest = hashlib.sha256(encoded).hexdigest()
    _record_output(job, item, rel_out, digest)
    item.state = "marked" if marked else "copied"


def _mark_file(job: _Job, item: _File) -> None:
    _encode_file(job, item, marked=True)


def _copy_file(job: _Job, item: _File) -> None:
    if job.reencode_all:
        _encode_file(job, item, marked=False)
        return
    source = job.src / item.rel
    data = _read(source)
    item.digest = hashlib.sha256(data).hexdigest()
    check_image(source, data)
    write_atomic(job.out / item.rel, data)  # its folder was made before the workers started
    _record_output(job, item, item.rel, item.digest)
    item.state = "copied"


def _record_output(job: _Job, item: _File, rel_out: Path, digest: str) -> None:
    if item.output is not None and item.output != rel_out:
        (job.out / item.output).unlink(missing_ok=True)  # an earlier state's file
    item.output = rel_out
    item.output_digest = digest


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise ImageError(path, f"cannot read file ({exc.strerror or exc})") from None


def _run(job: _Job, item: _File, want_marked: bool) -> None:
    try:
        (_mark_file if want_marked else _copy_file)(job, item)
        return
    except ImageError as exc:
        item.error = exc.problem
    except MemoryError:
        item.error = "out of memory while decoding (image too large)"
    except OSError as exc:  # writing the output failed (disk full, permissions)
        item.error = f"cannot write output ({exc.strerror or exc})"
    except ValueError as exc:  # Pillow refused to encode this image
        item.error = f"cannot encode output ({exc})"
    item.state = "failed"
    if item.output is not None:  # never leave a file the manifest does not list
        (job.out / item.output).unlink(missing_ok=True)
        item.output = item.output_digest = None


def _share(fraction: float, n: int) -> int:
    # round half up (Python's round() would send 10.5 to 10), at least one image
    return max(1, int(fraction * n + 0.5))


def _desired(items: list[_File], fraction: float) -> set[str]:
    """Digests to mark: the first k distinct valid contents in permutation order."""
    order: dict[str, int] = {}
    for item in items:
        if item.state != "failed" and item.digest is not None:
            order[item.digest] = min(order.get(item.digest, item.order), item.order)
    if not order:
        return set()
    k = _share(fraction, len(order))
    return set(sorted(order, key=order.__getitem__)[:k])


def mark_folder(
    src: Path,
    out: Path,
    mark: Mark,
    *,
    alpha: float = 0.4,
    fraction: float = 0.1,
    seed: int | None = None,
    store: MarkStore,
    keep_metadata: bool = False,
    reencode_all: bool = False,
    progress: Progress | None = None,
    workers: int | None = None,
) -> MarkingResult:
    """Write marked and copied images of ``src`` into ``out``; record a manifest.

    See the module docstring for the selection. Raises ``MarkingError`` (bad α or
    fraction, missing/empty source, ``out`` inside the source or the store or not
    empty). Per-file problems do not stop the run: they are listed in
    ``MarkingResult.failed`` and the manifest. ``reencode_all`` writes unmarked images
    through the same decoder, metadata policy and encoder as marked ones instead of
    copying their bytes, so file encoding and metadata do not single out the isotopes
    (format-converted names too); the mark's own texture still changes file sizes.
    On Ctrl-C the files in progress finish,
    a manifest marked ``"complete": false`` is saved, and ``MarkingInterrupted`` is
    raised.
    """
    try:
        alpha = check_alpha(alpha)
    except ValueError as exc:
        raise MarkingError(str(exc)) from None
    fraction = check_fraction(fraction)
    src = require_dir(src, "source folder")
    out = check_out_dir(out, [src], store.root)
    rels, skipped = scan_images(src)
    if not rels:
        raise MarkingError(f"no image files found in {src}")
    record = store.info(mark.name) if mark.name in store else None
    if record is not None and record["fingerprint"] != mark.fingerprint:
        record = None  # a different mark under a held name: its commitment does not apply
    seed = secrets.randbelow(2**63) if seed is None else int(seed)
    permutation = np.random.default_rng(seed).permutation(len(rels))
    items = [
        _File(rel=rel, order=int(pos))
        for rel, pos in zip(rels, np.argsort(permutation), strict=True)
    ]
    for folder in sorted({rel.parent for rel in rels}):
        (out / folder).mkdir(parents=True, exist_ok=True)
    job = _Job(
        src=src,
        out=out,
        mark=mark,
        alpha=alpha,
        keep_metadata=keep_metadata,
        reencode_all=reencode_all,
        taken=frozenset(rels),
    )

    # Pass 1: provisional selection by position, before contents are known.
    k0 = _share(fraction, len(items))
    pool = ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1)
    complete = True
    try:
        futures = [pool.submit(_run, job, item, item.order < k0) for item in items]
        for done, future in enumerate(futures, start=1):
            future.result()
            if progress:
                progress(done, len(items))
        # Reconcile: redo files whose state differs from the final selection.
        while True:
            chosen = _desired(items, fraction)
            todo = [
                item
                for item in items
                if item.state != "failed" and (item.digest in chosen) != (item.state == "marked")
            ]
            if not todo:
                break
            wants = [item.digest in chosen for item in todo]
            list(pool.map(_run, [job] * len(todo), todo, wants))
    except KeyboardInterrupt:
        # Let running files finish, drop queued ones, and still record what was
        # written: marked files without a manifest would be unaccounted isotopes.
        pool.shutdown(wait=True, cancel_futures=True)
        complete = False
    finally:
        pool.shutdown(wait=True)

    marked = [i for i in items if i.state == "marked"]
    copied = [i for i in items if i.state == "copied"]
    failed = [FileFailure(str(i.rel), i.error or "failed") for i in items if i.state == "failed"]
    groups: dict[str, list[str]] = {}
    for item in items:
        if item.state != "failed" and item.digest:
            groups.setdefault(item.digest, []).append(str(item.rel))
    duplicates = [names for names in groups.values() if len(names) > 1]
    manifest = manifest_header("marking", mark, record)
    manifest.update(
        {
            "alpha": alpha,
            "fraction": fraction,
            "seed": seed,
            "selection": {
                "method": "default_rng(seed).permutation over sorted relative paths; "
                "first max(1, round(fraction*N)) distinct valid contents",
                "distinct_valid": len(groups),
                "marked_contents": len({i.digest for i in marked}),
            },
            "keep_metadata": keep_metadata,
            "reencode_all": reencode_all,
            "source_dir": str(src),
            "out_dir": str(out),
            "files": [
                {
                    "source": str(i.rel),
                    "output": str(i.output),
                    "marked": i.state == "marked",
                    "source_sha256": i.digest,
                    "output_sha256": i.output_digest,
                }
                for i in items
                if i.state in ("marked", "copied")
            ],
            "failed": [{"path": f.path, "error": f.error} for f in failed],
            "skipped": [str(s) for s in skipped],
            "duplicates": duplicates,
            "counts": {"marked": len(marked), "copied": len(copied), "failed": len(failed)},
            "complete": complete,
        }
    )
    path = store.save_manifest(manifest, label=f"mark-{mark.name}")
    if not complete:
        raise MarkingInterrupted(path, len(marked) + len(copied), len(items))
    return MarkingResult(
        marked=len(marked),
        copied=len(copied),
        failed=failed,
        skipped=[str(s) for s in skipped],
        duplicates=duplicates,
        manifest=path,
        out=out,
        seed=seed,
    )
