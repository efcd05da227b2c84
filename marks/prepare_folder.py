"""``prepare folder``: one subfolder per label, the layout local trainers read."""

from __future__ import annotations

import hashlib
import os
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from marks.atomic import write_atomic
from marks.errors import ImageError, MarkingError
from marks.imageio import check_image
from marks.manifest import manifest_header
from marks.marking import FileFailure
from marks.regular_file import read_regular
from marks.store import MarkStore
from marks.upload_files import (
    LabelledFile,
    PrepareResult,
    Progress,
    collect_labelled,
    safe_file_name,
)

_LABEL = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")


def check_folder_label(label: str) -> str:
    """Return ``label`` if it is usable as a folder name, else raise ``MarkingError``."""
    if not _LABEL.fullmatch(label or ""):
        raise MarkingError(
            f"label {label!r} cannot be a folder name: use letters, digits, '_', '.', '-'"
        )
    return label


def prepare_folder(
    sources: dict[str, Path],
    out: Path,
    *,
    store: MarkStore,
    progress: Progress | None = None,
    workers: int | None = None,
) -> PrepareResult:
    """Copy every valid image of each ``label -> folder`` into ``out/label/``.

    Files are copied byte for byte (already marked or not) under flat, safe, unique
    names; invalid images are listed as failures and not copied. A manifest of what
    went where (with SHA-256 of each file) is saved in the store.
    """
    for label in sources:
        check_folder_label(label)
    files, out = collect_labelled(sources, out, store.root)
    used: dict[str, set[str]] = {label: set() for label in sources}
    targets = [Path(f.label) / safe_file_name(f.rel, used[f.label]) for f in files]
    result = PrepareResult(out=out)

    def copy(item: LabelledFile, target: Path) -> dict | FileFailure:
        try:
            data = read_regular(item.path)
            check_image(item.path, data)
            (out / target).parent.mkdir(parents=True, exist_ok=True)
            write_atomic(out / target, data)
        except ImageError as exc:
            return FileFailure(str(item.path), exc.problem)
        except OSError as exc:
            return FileFailure(str(item.path), f"cannot copy file ({exc.strerror or exc})")
        return {
            "label": item.label,
            "source": str(item.path),
            "output": str(target),
            "sha256": hashlib.sha256(data).hexdigest(),
        }

    out.mkdir(parents=True, exist_ok=True)
    with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
        for done, outcome in enumerate(pool.map(copy, files, targets), start=1):
            if isinstance(outcome, FileFailure):
                result.failed.append(outcome)
            else:
                result.files.append(outcome)
            if progress:
                progress(done, len(files))
    result.written = len(result.files)
    manifest = manifest_header("prepare-folder", None, None)
    manifest.update(
        {
            "out_dir": str(out),
            "labels": {label: str(Path(path).resolve()) for label, path in sources.items()},
            "files": result.files,
            "failed": [{"path": f.path, "error": f.error} for f in result.failed],
        }
    )
    result.manifest = store.save_manifest(manifest, label="prepare-folder")
    return result
