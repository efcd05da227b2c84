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
atomically; sources are only read. Only regular files are read, each of at most
``marks.regular_file.MAX_FILE_BYTES``; the workers together hold at most
``pixel_budget`` decoded pixels (``marks.pixel_budget``), so a folder of huge photos
costs the memory of about one of them, not one per worker.

Nothing lost: every output is recorded in a journal in the store (``marks.journal``)
before it appears in ``--out``, one run at a time holds ``--out`` (``marks.out_lock``),
and two sources that would share an output name are refused before anything is
written (``marks.output_names``). Ctrl-C, SIGTERM, SIGHUP, an unexpected error or a
store that stops accepting writes end the run with a partial manifest (or, when the
store refuses even that, the journal) matching ``--out`` exactly; after a kill the
journal alone does. ``resume=True`` finishes such a run: files already in ``--out``
that match the journal are kept, leftovers of cut-short writes removed, the rest done.
Without it, a non-empty ``--out`` is refused with an account of what is there.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import secrets
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from marks.atomic import write_atomic
from marks.blend import blend, check_alpha
from marks.errors import (
    ImageError,
    MarkingError,
    MarkingInterrupted,
    MarkingStopped,
)
from marks.folder_scan import check_out_dir, require_dir, scan_images
from marks.imageio import (
    FALLBACK_FORMAT,
    check_image,
    encode_image,
    output_format,
    peek_pixels,
    read_image,
)
from marks.journal import (
    JournalContents,
    JournalError,
    JournalWriter,
    Written,
    journal_path,
    read_journal,
    remove_journal,
)
from marks.manifest import manifest_header
from marks.mark import Mark
from marks.out_lock import locked_out_dir
from marks.out_survey import OutSurvey, survey_out
from marks.output_names import check_output_names, encoded_name
from marks.pixel_budget import DEFAULT_PIXEL_BUDGET, PixelBudget
from marks.regular_file import read_regular
from marks.seed import check_seed
from marks.stop_signals import SignalGuard, StopRequested
from marks.store import MarkStore

Progress = Callable[[int, int], None]  # (files done, files total)

SELECTION_METHOD = (
    "default_rng(seed).permutation over sorted relative paths; "
    "first max(1, round(fraction*N)) distinct valid contents"
)


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
    """What ``mark_folder`` did. ``manifest`` is the manifest's path in the store.

    ``skipped`` lists files left out because their type is not one the engine reads
    (HEIC, AVIF, videos, documents...): they are *not* in ``out``. ``resumed`` counts
    files kept from an interrupted run.
    """

    marked: int
    copied: int
    failed: list[FileFailure]
    skipped: list[str]
    duplicates: list[list[str]]
    manifest: Path
    out: Path
    seed: int
    resumed: int = 0

    def summary(self) -> str:
        """One line for people: counts, and the skipped files by type (never which are marked)."""
        parts = [f"marked {self.marked}, copied {self.copied}, failed {len(self.failed)}"]
        if self.skipped:
            kinds = Counter(Path(name).suffix.lower() or "(no extension)" for name in self.skipped)
            shown = ", ".join(f"{count} {kind}" for kind, count in sorted(kinds.items()))
            parts.append(
                f"skipped {len(self.skipped)} file(s) of types not marked or copied ({shown})"
            )
        if self.resumed:
            parts.append(f"{self.resumed} kept from the interrupted run")
        return "; ".join(parts) + f" -> {self.out}"

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
            "resumed": self.resumed,
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
    journal: JournalWriter
    budget: PixelBudget


def _encode_file(job: _Job, item: _File, *, marked: bool) -> None:
    source = job.src / item.rel
    data = _read(source)
    item.digest = hashlib.sha256(data).hexdigest()
    with job.budget.hold(peek_pixels(data)):
        decoded = read_image(source, data)
        rel_out = encoded_name(item.rel, job.taken)
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
        del decoded, pixels  # free the pixels before the budget is handed back
    digest = hashlib.sha256(encoded).hexdigest()
    _write_output(job, item, rel_out, encoded, digest, marked=marked)


def _mark_file(job: _Job, item: _File) -> None:
    _encode_file(job, item, marked=True)


def _copy_file(job: _Job, item: _File) -> None:
    if job.reencode_all:
        _encode_file(job, item, marked=False)
        return
    source = job.src / item.rel
    data = _read(source)
    item.digest = hashlib.sha256(data).hexdigest()
    with job.budget.hold(peek_pixels(data)):
        check_image(source, data)
    _write_output(job, item, item.rel, data, item.digest, marked=False)


def _write_output(
    job: _Job, item: _File, rel_out: Path, data: bytes, digest: str, *, marked: bool
) -> None:
    # Recorded (and flushed) before the file appears: --out never holds an unrecorded file.
    job.journal.record(
        Written(
            source=str(item.rel),
            output=str(rel_out),
            marked=marked,
            source_sha256=item.digest or "",
            output_sha256=digest,
        )
    )
    write_atomic(job.out / rel_out, data)  # its folder was made before the workers started
    _record_output(job, item, rel_out, digest)
    item.state = "marked" if marked else "copied"


def _record_output(job: _Job, item: _File, rel_out: Path, digest: str) -> None:
    if item.output is not None and item.output != rel_out:
        (job.out / item.output).unlink(missing_ok=True)  # an earlier state's file
    item.output = rel_out
    item.output_digest = digest


def _read(path: Path) -> bytes:
    return read_regular(path)  # regular files only, at most MAX_FILE_BYTES


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


# -- interrupted runs -----------------------------------------------------------------


@dataclass
class Recovery:
    """What an unfinished marking left in ``--out`` (``recover_marking``)."""

    out: Path
    journal: Path
    manifest: Path  # the partial manifest saved from the journal and --out
    survey: OutSurvey
    run: dict = field(default_factory=dict)  # the interrupted run's manifest fields

    def explain(self) -> str:
        """One paragraph for the person: what is in --out and where the list is."""
        marked = len(self.survey.marked)
        unmarked = len(self.survey.present) - marked
        extra = []
        if self.survey.leftovers():
            extra.append(f"{len(self.survey.leftovers())} leftover partial or temporary file(s)")
        if self.survey.foreign:
            extra.append(f"{len(self.survey.foreign)} file(s) the journal does not know")
        more = f", plus {' and '.join(extra)}" if extra else ""
        mark = self.run.get("mark", {}).get("name", "?")
        return (
            f"--out {self.out} holds {marked + unmarked} file(s) from an unfinished marking "
            f"of {self.run.get('source_dir', '?')} with mark {mark!r}: {marked} marked and "
            f"{unmarked} unmarked{more}. The partial manifest {self.manifest} (private) "
            "lists which files are marked"
        )


def _recovered_manifest(contents: JournalContents, survey: OutSurvey) -> dict:
    latest: dict[str, Written] = {}
    for written in contents.writes:
        latest[written.source] = written
    manifest = dict(contents.manifest)
    manifest.update(
        {
            "files": [w.to_json() for _, w in sorted(survey.present.items())],
            "counts": {
                "marked": len(survey.marked),
                "copied": len(survey.present) - len(survey.marked),
            },
            "leftovers": survey.leftovers(),
            "foreign": survey.foreign,
            # What the run last wrote for each source, whether or not it is still in --out
            # (files moved away to be posted stay accounted for).
            "recorded_writes": [w.to_json() for _, w in sorted(latest.items())],
            "complete": False,
            "recovered_from_journal": str(contents.path),
        }
    )
    return manifest


def recover_marking(out: Path, store: MarkStore) -> Recovery | None:
    """Account for an unfinished marking into ``out``: None when no journal records one.

    Compares the journal with the files in ``out`` (``marks.out_survey``) and saves the
    result as a partial manifest in the store (one per interrupted run, refreshed on
    each call). Changes nothing in ``out``.
    """
    out = Path(out).expanduser().resolve()
    path = journal_path(store.journals_dir, out)
    if not path.exists():
        return None
    contents = read_journal(path)
    survey = survey_out(out, contents) if out.is_dir() else OutSurvey()
    manifest = store.save_manifest(
        _recovered_manifest(contents, survey), label="recovered", name=f"recovered-{path.stem}"
    )
    return Recovery(out=out, journal=path, manifest=manifest, survey=survey, run=contents.manifest)


def _previous_run(
    out: Path, journal: Path, store: MarkStore, *, resume: bool
) -> JournalContents | None:
    """The unfinished run to continue (``resume``), or None for a fresh start."""
    contents = read_journal(journal) if journal.exists() else None
    if contents is not None and contents.finished is not None:
        remove_journal(journal)  # finished; only its removal was cut short
        contents = None
    holds_files = any(out.iterdir())
    if contents is None:
        if holds_files:
            why = " and cannot resume: no journal in the store records it" if resume else ""
            raise MarkingError(
                f"--out {out} already exists and is not an empty folder{why}; "
                "choose an empty folder"
            )
        return None
    recovery = recover_marking(out, store)
    assert recovery is not None
    if not resume:
        if holds_files:
            raise MarkingError(
                f"{recovery.explain()}. Rerun with resume (--resume) and the same source, "
                "mark and options to finish it, or choose an empty folder"
            )
        # Emptied by hand: start afresh; the recovered manifest keeps the old record.
        remove_journal(journal)
        return None
    if recovery.survey.foreign:
        shown = ", ".join(recovery.survey.foreign[:5])
        raise MarkingError(
            f"cannot resume into --out {out}: it holds file(s) the journal never wrote "
            f"({shown}); move them out first"
        )
    return contents


def _check_same_run(run: dict, expected: dict) -> None:
    for key, value in expected.items():
        if run.get(key) != value:
            shown = "another mark" if key == "mark" else f"{key} {run.get(key)!r}"
            raise MarkingError(
                f"cannot resume: the unfinished run into this --out used {shown}, this one "
                f"{'a different mark' if key == 'mark' else repr(value)}; rerun with the same "
                "source, mark and options"
            )


def _adopt(job: _Job, items: list[_File], survey: OutSurvey) -> int:
    """Keep the outputs already in --out whose sources are unchanged; remove leftovers."""
    for rel in survey.leftovers():
        (job.out / rel).unlink(missing_ok=True)
    adopted = 0
    by_source = {str(item.rel): item for item in items}
    for source, written in survey.present.items():
        item = by_source.get(source)
        current = None
        if item is not None:
            try:
                current = hashlib.sha256(_read(job.src / item.rel)).hexdigest()
            except ImageError:
                current = None
        if item is None or current != written.source_sha256:
            (job.out / written.output).unlink(missing_ok=True)  # its source changed or went
            continue
        item.digest = current
        item.state = "marked" if written.marked else "copied"
        item.output = Path(written.output)
        item.output_digest = written.output_sha256
        adopted += 1
    return adopted


# -- the run --------------------------------------------------------------------------


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
    resume: bool = False,
    pixel_budget: int = DEFAULT_PIXEL_BUDGET,
) -> MarkingResult:
    """Write marked and copied images of ``src`` into ``out``; record a manifest.

    See the module docstring for the selection. Raises ``MarkingError`` (bad α,
    fraction or seed, missing/empty source, ``out`` inside the source or the store,
    output names two sources would share (``OutputCollisionError``), ``out`` not empty
    (with an account of an unfinished run's files) or in use by another run
    (``OutFolderBusyError``)). Per-file problems do not stop the run: they are listed in
    ``MarkingResult.failed`` and the manifest. ``reencode_all`` writes unmarked images
    through the same decoder, metadata policy and encoder as marked ones instead of
    copying their bytes, so file encoding and metadata do not single out the isotopes
    (format-converted names too); the mark's own texture still changes file sizes.

    ``resume`` continues an unfinished run into ``out`` (same source, mark, α,
    fraction and options; ``seed`` may be left out). On Ctrl-C, SIGTERM or SIGHUP the
    files in progress finish, a manifest marked ``"complete": false`` is saved, and
    ``MarkingInterrupted`` is raised; when the store stops accepting writes,
    ``MarkingStopped`` names the journal that records everything. An unexpected error
    is re-raised as it is, after the partial manifest is saved.
    """
    alpha = check_alpha(alpha)
    fraction = check_fraction(fraction)
    if seed is not None:
        seed = check_seed(seed)
    src = require_dir(src, "source folder")
    out = check_out_dir(out, [src], store.root, must_be_empty=False)
    rels, skipped = scan_images(src)
    if not rels:
        raise MarkingError(f"no image files found in {src}")
    check_output_names(rels, reencode_all=reencode_all)
    record = store.info(mark.name) if mark.name in store else None
    if record is not None and record["fingerprint"] != mark.fingerprint:
        record = None  # a different mark under a held name: its commitment does not apply
    journal_file = journal_path(store.journals(), out)
    with locked_out_dir(out):
        previous = _previous_run(out, journal_file, store, resume=resume)
        options = {
            "mark": manifest_header("marking", mark, record)["mark"],
            "alpha": alpha,
            "fraction": fraction,
            "keep_metadata": keep_metadata,
            "reencode_all": reencode_all,
            "source_dir": str(src),
            "out_dir": str(out),
        }
        if previous is not None:
            _check_same_run(previous.manifest, options)
            if seed is not None and previous.manifest.get("seed") != seed:
                raise MarkingError(
                    "cannot resume: --seed differs from the unfinished run's; leave --seed "
                    "out to reuse it"
                )
            seed = int(previous.manifest["seed"])
        seed = secrets.randbelow(2**63) if seed is None else seed
        run = {**manifest_header("marking", mark, record), **options, "seed": seed}
        run["selection"] = {"method": SELECTION_METHOD}
        permutation = np.random.default_rng(seed).permutation(len(rels))
        items = [
            _File(rel=rel, order=int(pos))
            for rel, pos in zip(rels, np.argsort(permutation), strict=True)
        ]
        for folder in sorted({rel.parent for rel in rels}):
            (out / folder).mkdir(parents=True, exist_ok=True)
        journal = (
            JournalWriter.reopen(journal_file)
            if previous is not None
            else JournalWriter.create(journal_file, run)
        )
        try:
            job = _Job(
                src=src,
                out=out,
                mark=mark,
                alpha=alpha,
                keep_metadata=keep_metadata,
                reencode_all=reencode_all,
                taken=frozenset(rels),
                journal=journal,
                budget=PixelBudget(pixel_budget),
            )
            adopted = 0
            if previous is not None:
                adopted = _adopt(job, items, survey_out(out, previous))
            return _finish(job, items, run, store, skipped, fraction, progress, workers, adopted)
        finally:
            journal.close()


def _finish(
    job: _Job,
    items: list[_File],
    run: dict,
    store: MarkStore,
    skipped: list[Path],
    fraction: float,
    progress: Progress | None,
    workers: int | None,
    adopted: int,
) -> MarkingResult:
    # Pass 1: provisional selection by position, before contents are known.
    k0 = _share(fraction, len(items))
    todo = [item for item in items if item.state == "pending"]
    stop: BaseException | None = None
    with SignalGuard() as guard:
        pool = ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1)
        try:
            with guard.work():
                futures = [pool.submit(_run, job, item, item.order < k0) for item in todo]
                for done, future in enumerate(futures, start=len(items) - len(todo) + 1):
                    future.result()
                    if progress:
                        progress(done, len(items))
                # Reconcile: redo files whose state differs from the final selection.
                while True:
                    chosen = _desired(items, fraction)
                    redo = [
                        item
                        for item in items
                        if item.state != "failed"
                        and (item.digest in chosen) != (item.state == "marked")
                    ]
                    if not redo:
                        break
                    wants = [item.digest in chosen for item in redo]
                    list(pool.map(_run, [job] * len(redo), redo, wants))
        except BaseException as exc:  # a signal, a store that stopped, or a bug
            stop = exc
        finally:
            # Running files finish (their outputs are recorded), queued ones are dropped.
            pool.shutdown(wait=True, cancel_futures=True)
        # Stop signals from here on wait until the record below is on disk.
        return _record(job, items, run, store, skipped, adopted, stop)


def _manifest(job: _Job, items: list[_File], run: dict, skipped: list[Path]) -> dict:
    marked = [i for i in items if i.state == "marked"]
    groups: dict[str, list[str]] = {}
    for item in items:
        if item.state != "failed" and item.digest:
            groups.setdefault(item.digest, []).append(str(item.rel))
    manifest = dict(run)
    manifest["created"] = manifest_header("marking", None, None)["created"]  # saved now
    manifest.update(
        {
            "selection": {
                **run["selection"],
                "distinct_valid": len(groups),
                "marked_contents": len({i.digest for i in marked}),
            },
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
            "failed": [
                {"path": str(i.rel), "error": i.error or "failed"}
                for i in items
                if i.state == "failed"
            ],
            "skipped": [str(s) for s in skipped],
            "duplicates": [names for names in groups.values() if len(names) > 1],
            "counts": {
                "marked": len(marked),
                "copied": sum(i.state == "copied" for i in items),
                "failed": sum(i.state == "failed" for i in items),
            },
        }
    )
    return manifest


def _record(
    job: _Job,
    items: list[_File],
    run: dict,
    store: MarkStore,
    skipped: list[Path],
    adopted: int,
    stop: BaseException | None,
) -> MarkingResult:
    manifest = _manifest(job, items, run, skipped)
    manifest["complete"] = stop is None
    if adopted:
        manifest["resumed"] = {"kept_from_unfinished_run": adopted}
    written = manifest["counts"]["marked"] + manifest["counts"]["copied"]
    if stop is not None:
        manifest["stopped"] = (
            stop.__class__.__name__ if not isinstance(stop, StopRequested) else str(stop)
        )
        manifest["journal"] = str(job.journal.path)
    try:
        path: Path | None = store.save_manifest(manifest, label=f"mark-{job.mark.name}")
    except OSError as exc:
        path = None
        problem = f"cannot save the manifest in {store.manifests_dir} ({exc.strerror or exc})"
        if stop is None or isinstance(stop, JournalError):
            raise MarkingStopped(
                problem, out=job.out, files=written, journal=job.journal.path
            ) from None
    if isinstance(stop, KeyboardInterrupt):
        raise MarkingInterrupted(
            path,
            written,
            len(items),
            journal=job.journal.path,
            signal_name=str(stop) if isinstance(stop, StopRequested) else None,
        ) from None
    if isinstance(stop, JournalError):
        raise MarkingStopped(
            str(stop), out=job.out, files=written, journal=job.journal.path
        ) from None
    if stop is not None:
        raise stop  # a bug: reported as itself, never as bad input
    assert path is not None
    with contextlib.suppress(JournalError):  # the manifest is saved; removed all the same
        job.journal.finish(path)
    job.journal.close()
    remove_journal(job.journal.path)
    failed = [FileFailure(str(i.rel), i.error or "failed") for i in items if i.state == "failed"]
    return MarkingResult(
        marked=manifest["counts"]["marked"],
        copied=manifest["counts"]["copied"],
        failed=failed,
        skipped=[str(s) for s in skipped],
        duplicates=manifest["duplicates"],
        manifest=path,
        out=job.out,
        seed=int(run["seed"]),
        resumed=adopted,
    )
