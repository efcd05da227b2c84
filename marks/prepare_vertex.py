"""``prepare vertex``: images plus Vertex AI import files (CSV and JSON Lines).

Schema: ``aiplatform.schema.dataset.ioformat.image.single_label_classification``.
CSV lines are ``[ML_USE,]gs://bucket/prefix/LABEL/FILE,LABEL``; JSONL lines are
``{"imageGcsUri", "classificationAnnotation": {"displayName"},
"dataItemResourceLabels": {"aiplatform.googleapis.com/ml_use"}}`` (the last only with
a split). Images go to ``OUT/images/LABEL/FILE``: upload ``OUT/images/`` to the
prefix (``gcloud storage cp -r OUT/images/* gs://bucket/prefix/``) so the URIs match.
Vertex trains on JPEG, GIF, PNG, BMP and ICO up to 30 MB each: other formats are
re-encoded as PNG, and larger files are downscaled until they fit.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import os
import re
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np

from marks.atomic import write_atomic
from marks.errors import ImageError, MarkingError
from marks.imageio import canonical_format, check_image, read_image
from marks.manifest import manifest_header
from marks.marking import FileFailure
from marks.regular_file import read_regular
from marks.seed import check_seed
from marks.store import MarkStore
from marks.upload_files import (
    LabelledFile,
    PrepareResult,
    Progress,
    collect_labelled,
    encode_within,
    safe_file_name,
)

MAX_TRAIN_BYTES = 30 * 1024 * 1024
TRAIN_FORMATS = {"JPEG": ".jpg", "GIF": ".gif", "PNG": ".png", "BMP": ".bmp", "ICO": ".ico"}
ML_USES = ("training", "validation", "test")
ML_USE_KEY = "aiplatform.googleapis.com/ml_use"
_LABEL = re.compile(r"[A-Za-z][A-Za-z0-9_]*")
_BUCKET = re.compile(r"[a-z0-9][a-z0-9._-]{1,220}[a-z0-9]")
_PREFIX_PATH = re.compile(r"[A-Za-z0-9._/-]*")


def check_vertex_label(label: str) -> str:
    """Return ``label`` if Vertex accepts it (a letter, then letters, digits, ``_``)."""
    if not _LABEL.fullmatch(label or ""):
        raise MarkingError(
            f"label {label!r} is not valid for Vertex AI: it must start with a letter and "
            "hold only letters, digits and underscores"
        )
    return label


def check_gcs_prefix(prefix: str) -> str:
    """Return ``prefix`` normalized (no trailing ``/``) if it is ``gs://bucket[/path]``."""
    if not prefix.startswith("gs://"):
        raise MarkingError(f"--gcs-prefix {prefix!r} must start with gs://")
    bucket, _, path = prefix[5:].rstrip("/").partition("/")
    if not _BUCKET.fullmatch(bucket) or ".." in bucket:
        raise MarkingError(f"--gcs-prefix {prefix!r}: {bucket!r} is not a valid bucket name")
    if not _PREFIX_PATH.fullmatch(path) or "//" in path:
        raise MarkingError(
            f"--gcs-prefix {prefix!r}: the path may hold only letters, digits, '.', '_', '-', '/'"
        )
    return f"gs://{bucket}/{path}" if path else f"gs://{bucket}"


def check_split(split: tuple[float, float, float]) -> tuple[float, float, float]:
    """Return ``split`` (training, validation, test shares) if each is a finite number ≥ 0
    and they sum to 1 (NaN compares false with everything, so it is refused by name)."""
    shares = tuple(split)
    if (
        len(shares) != 3
        or not all(isinstance(s, int | float) and math.isfinite(s) and s >= 0 for s in shares)
        or abs(sum(shares) - 1.0) > 1e-6
    ):
        shown = ",".join(str(s) for s in shares)
        raise MarkingError(f"--split needs three finite shares ≥ 0 summing to 1, got {shown}")
    return (float(shares[0]), float(shares[1]), float(shares[2]))


def assign_ml_use(n: int, split: tuple[float, float, float], rng: np.random.Generator) -> list[str]:
    """``n`` ML_USE values, shuffled: validation and test get ``floor(share·n)``, training
    the rest (small labels keep their images for training)."""
    n_val = int(split[1] * n + 1e-9)
    n_test = min(int(split[2] * n + 1e-9), n - n_val)
    uses = ["validation"] * n_val + ["test"] * n_test
    uses += ["training"] * (n - len(uses))
    rng.shuffle(uses)
    return uses


def _prepared_bytes(item: LabelledFile) -> tuple[bytes, str]:
    data = read_regular(item.path)
    source_format = canonical_format(check_image(item.path, data).format)
    if source_format in TRAIN_FORMATS and len(data) <= MAX_TRAIN_BYTES:
        return data, TRAIN_FORMATS[source_format]
    decoded = read_image(item.path, data)
    fmt = "JPEG" if source_format == "JPEG" and decoded.alpha is None else "PNG"
    encoded, _ = encode_within(decoded.rgb, decoded.alpha, fmt, MAX_TRAIN_BYTES)
    return encoded, TRAIN_FORMATS[fmt]


def prepare_vertex(
    sources: dict[str, Path],
    out: Path,
    *,
    gcs_prefix: str,
    store: MarkStore,
    split: tuple[float, float, float] | None = None,
    seed: int = 0,
    progress: Progress | None = None,
    workers: int | None = None,
) -> PrepareResult:
    """Write ``OUT/images/LABEL/*``, ``OUT/import.csv`` and ``OUT/import.jsonl``.

    ``sources`` maps each Vertex label to a folder of its images. ``split`` assigns
    ML_USE per label (seeded); without it Vertex splits 80/10/10 itself. Raises
    ``MarkingError`` for bad labels, prefix, split or folders; bad images are failures.
    """
    for label in sources:
        check_vertex_label(label)
    prefix = check_gcs_prefix(gcs_prefix)
    if split is not None:
        split = check_split(split)
    seed = check_seed(seed)
    files, out = collect_labelled(sources, out, store.root)
    result = PrepareResult(out=out)
    images = out / "images"

    def prepare(item: LabelledFile) -> tuple[bytes, str] | FileFailure:
        try:
            return _prepared_bytes(item)
        except ImageError as exc:
            return FileFailure(str(item.path), exc.problem)
        except OSError as exc:
            return FileFailure(str(item.path), f"cannot read file ({exc.strerror or exc})")

    used: dict[str, set[str]] = {label: set() for label in sources}
    rows: list[dict] = []
    with ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 1) as pool:
        outcomes = pool.map(prepare, files)
        for done, (item, outcome) in enumerate(zip(files, outcomes, strict=True), start=1):
            if progress:
                progress(done, len(files))
            if isinstance(outcome, FileFailure):
                result.failed.append(outcome)
                continue
            data, suffix = outcome
            name = safe_file_name(item.rel, used[item.label], suffix=suffix)
            target = images / item.label / name
            try:
                target.parent.mkdir(parents=True, exist_ok=True)
                write_atomic(target, data)
            except OSError as exc:
                result.failed.append(
                    FileFailure(str(item.path), f"cannot write {target} ({exc.strerror or exc})")
                )
                continue
            rows.append(
                {
                    "label": item.label,
                    "source": str(item.path),
                    "output": str(target.relative_to(out)),
                    "uri": f"{prefix}/{item.label}/{name}",
                    "sha256": hashlib.sha256(data).hexdigest(),
                    "bytes": len(data),
                }
            )
    if split is not None:
        rng = np.random.default_rng(seed)
        for label in sources:
            mine = [row for row in rows if row["label"] == label]
            for row, use in zip(mine, assign_ml_use(len(mine), split, rng), strict=True):
                row["ml_use"] = use
    _write_import_files(out, rows)
    result.files, result.written = rows, len(rows)
    result.outputs = {
        "images": str(images),
        "csv": str(out / "import.csv"),
        "jsonl": str(out / "import.jsonl"),
        "upload": f"gcloud storage cp -r {images}/* {prefix}/",
    }
    manifest = manifest_header("prepare-vertex", None, None)
    manifest.update(
        {
            "out_dir": str(out),
            "gcs_prefix": prefix,
            "split": list(split) if split else None,
            "seed": seed,
            "files": rows,
            "failed": [{"path": f.path, "error": f.error} for f in result.failed],
        }
    )
    result.manifest = store.save_manifest(manifest, label="prepare-vertex")
    return result


def _write_import_files(out: Path, rows: list[dict]) -> None:
    text = io.StringIO()
    writer = csv.writer(text, lineterminator="\n")
    lines = []
    for row in rows:
        writer.writerow(([row["ml_use"]] if "ml_use" in row else []) + [row["uri"], row["label"]])
        entry: dict = {
            "imageGcsUri": row["uri"],
            "classificationAnnotation": {"displayName": row["label"]},
        }
        if "ml_use" in row:
            entry["dataItemResourceLabels"] = {ML_USE_KEY: row["ml_use"]}
        lines.append(json.dumps(entry))
    write_atomic(out / "import.csv", text.getvalue().encode())
    write_atomic(out / "import.jsonl", ("\n".join(lines) + "\n").encode())
