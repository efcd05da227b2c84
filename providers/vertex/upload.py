"""Upload a folder of (marked) images to Cloud Storage and write a Vertex AI import file.

Objects already in the bucket with the same MD5 are skipped, so an interrupted upload
resumes where it stopped; large files go up with resumable uploads. Only image files
are sent: marks and manifests (the person's secrets) never leave the machine.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from providers.errors import MissingExtraError, ProviderOptionError
from providers.vertex.errors import translate
from providers.vertex.labels import check_label, split_gs_uri

IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".gif", ".bmp", ".ico"})
"""The image formats Vertex AI image datasets train on."""
_OTHER_IMAGES = frozenset({".webp", ".tif", ".tiff", ".heic", ".avif", ".ppm", ".pgm"})
ML_USES = ("training", "validation", "test")
_RESUMABLE_ABOVE = 8 * 1024 * 1024  # bytes; smaller files go up in one request
_CHUNK = 4 * 1024 * 1024  # resumable chunk size, a multiple of 256 KiB


class Caller(Protocol):
    """What runs one service call: ``providers.retry.RetryPolicy`` or a direct call."""

    def call(self, fn: Callable, *args: object, operation: str) -> object: ...


class _Direct:
    def call(self, fn: Callable, *args: object, operation: str) -> object:
        return fn(*args)


@dataclass(frozen=True)
class UploadItem:
    """One local image, where it goes and its label."""

    path: Path
    object_name: str
    label: str


@dataclass
class UploadResult:
    """What ``upload_folder`` did; ``import_uri`` is the file to give ``ImageDataset.create``."""

    bucket: str
    uploaded: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    import_uri: str = ""
    labels: dict[str, int] = field(default_factory=dict)

    def to_json(self) -> dict:
        """A JSON-serialisable summary."""
        return {
            "bucket": self.bucket,
            "uploaded": len(self.uploaded),
            "skipped": len(self.skipped),
            "import_uri": self.import_uri,
            "labels": self.labels,
        }


def _images_under(folder: Path) -> list[Path]:
    """Image files under ``folder`` (hidden entries skipped; other files never sent)."""
    found = sorted(
        p
        for p in folder.rglob("*")
        if p.is_file() and not any(part.startswith(".") for part in p.relative_to(folder).parts)
    )
    unsupported = [p for p in found if p.suffix.lower() in _OTHER_IMAGES]
    if unsupported:
        raise ProviderOptionError(
            f"{unsupported[0]}: Vertex AI does not train on {unsupported[0].suffix} images "
            f"({len(unsupported)} such files); convert them with `isotope prepare vertex`"
        )
    return [p for p in found if p.suffix.lower() in IMAGE_SUFFIXES]


def plan_upload(
    folder: Path, prefix: str, *, label: str | None = None, labels_from_folders: bool = False
) -> list[UploadItem]:
    """What to upload: every image under ``folder`` with one ``label``, or one label per
    subfolder (``labels_from_folders``). Raises ``ValueError`` naming the folder when
    the layout or a label is unusable.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise ProviderOptionError(f"{folder}: not a folder")
    if (label is None) == (not labels_from_folders):
        raise ProviderOptionError("give exactly one of --label L or --labels-from-folders")
    base = f"{prefix}/" if prefix else ""
    items: list[UploadItem] = []
    if label is not None:
        check_label(label, where=str(folder))
        for path in _images_under(folder):
            rel = path.relative_to(folder).as_posix()
            items.append(UploadItem(path, f"{base}{label}/{rel}", label))
    else:
        subfolders = sorted(
            p for p in folder.iterdir() if p.is_dir() and not p.name.startswith(".")
        )
        if len(subfolders) < 2:
            raise ProviderOptionError(
                f"{folder}: --labels-from-folders needs one subfolder per label (at least 2), "
                f"found {len(subfolders)}"
            )
        for sub in subfolders:
            check_label(sub.name, where=str(sub))
            found = _images_under(sub)
            if not found:
                raise ProviderOptionError(f"{sub}: label folder holds no images")
            for path in found:
                rel = path.relative_to(folder).as_posix()
                items.append(UploadItem(path, f"{base}{rel}", sub.name))
    if not items:
        raise ProviderOptionError(
            f"{folder}: no images to upload ({', '.join(sorted(IMAGE_SUFFIXES))})"
        )
    return items


def md5_base64(path: Path) -> str:
    """The base64 MD5 of a file, as Cloud Storage reports ``md5Hash``."""
    digest = hashlib.md5(usedforsecurity=False)
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return base64.b64encode(digest.digest()).decode("ascii")


def import_file_text(items: list[UploadItem], bucket: str, *, fmt: str = "csv") -> str:
    """The Vertex single-label import file: CSV ``gs://...,label`` or JSONL lines."""
    if fmt == "csv":
        buf = io.StringIO()
        writer = csv.writer(buf, lineterminator="\n")
        for item in items:
            writer.writerow([f"gs://{bucket}/{item.object_name}", item.label])
        return buf.getvalue()
    if fmt == "jsonl":
        return "".join(
            json.dumps(
                {
                    "imageGcsUri": f"gs://{bucket}/{item.object_name}",
                    "classificationAnnotation": {"displayName": item.label},
                }
            )
            + "\n"
            for item in items
        )
    raise ProviderOptionError(f"import format must be csv or jsonl, got {fmt!r}")


def storage_client(project: str | None = None) -> Any:
    """A ``google.cloud.storage.Client`` from the standard credential chain.

    With ``STORAGE_EMULATOR_HOST`` set the library talks to that emulator anonymously.
    """
    try:
        from google.cloud import storage  # type: ignore[attr-defined]
    except ImportError as exc:
        raise MissingExtraError("vertex", "vertex") from exc
    try:
        return storage.Client(project=project) if project else storage.Client()
    except Exception as exc:  # no ADC, no project: say so, never print credentials
        raise translate(exc, operation="gcs connect") from exc


def upload_folder(
    folder: Path,
    destination: str,
    *,
    label: str | None = None,
    labels_from_folders: bool = False,
    import_format: str = "csv",
    client: Any | None = None,
    workers: int = 8,
    retry: Caller | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> UploadResult:
    """Upload the images of ``folder`` to ``destination`` (``gs://bucket/prefix``) in
    parallel, skip those already there with the same MD5, then upload the import file
    ``prefix/import.csv`` (or ``.jsonl``). ``progress(done, total)`` is called per file.
    """
    bucket_name, prefix = split_gs_uri(destination)
    items = plan_upload(folder, prefix, label=label, labels_from_folders=labels_from_folders)
    client = client if client is not None else storage_client()
    caller = retry if retry is not None else _Direct()
    bucket = client.bucket(bucket_name)
    result = UploadResult(bucket=bucket_name)
    for item in items:
        result.labels[item.label] = result.labels.get(item.label, 0) + 1

    def one(item: UploadItem) -> bool:
        operation = f"gcs upload gs://{bucket_name}/{item.object_name}"

        def send() -> bool:
            try:
                existing = bucket.get_blob(item.object_name)
                if existing is not None and existing.md5_hash == md5_base64(item.path):
                    return False
                blob = bucket.blob(
                    item.object_name,
                    chunk_size=_CHUNK if item.path.stat().st_size > _RESUMABLE_ABOVE else None,
                )
                blob.upload_from_filename(str(item.path), checksum="md5")
                return True
            except Exception as exc:
                raise translate(exc, operation=operation) from exc

        return bool(caller.call(send, operation=operation))

    done = 0
    with ThreadPoolExecutor(max(1, workers), thread_name_prefix="isotope-gcs") as pool:
        for item, sent in zip(items, pool.map(one, items), strict=True):
            (result.uploaded if sent else result.skipped).append(item.object_name)
            done += 1
            if progress is not None:
                progress(done, len(items))

    name = f"{prefix}/import.{import_format}" if prefix else f"import.{import_format}"
    text = import_file_text(items, bucket_name, fmt=import_format)
    operation = f"gcs upload gs://{bucket_name}/{name}"

    def send_import() -> None:
        try:
            bucket.blob(name).upload_from_string(text, content_type="text/plain")
        except Exception as exc:
            raise translate(exc, operation=operation) from exc

    caller.call(send_import, operation=operation)
    result.import_uri = f"gs://{bucket_name}/{name}"
    return result
