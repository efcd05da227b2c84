"""The store file holding a pool mark's external marks: ``externals/NAME.pool``.

A zip of ``record.json`` (the mark's name and fingerprint, its kind, each external's
fingerprint) and ``NNNN.pixels.npy`` / ``NNNN.mask.npy`` (uint8) per external. It is
written whole under a temporary name and renamed, mode 0600, one external at a time so
a large pool is never held twice in memory. Reading checks every external against its
recorded fingerprint and the file against the mark it belongs to.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import secrets
import zipfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from marks.errors import DamagedMarkError
from marks.mark import Mark, MarkKind
from marks.pool import PoolPhoto

SUFFIX = ".pool"
FILE_MODE = 0o600


def _npy(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, array, allow_pickle=False)
    return buf.getvalue()


def write_pool_file(
    path: Path, *, mark: Mark, externals: Sequence[PoolPhoto], fsync: bool = True
) -> None:
    """Write ``externals`` of pool mark ``mark`` to ``path`` (replaced atomically)."""
    record = {
        "mark": mark.name,
        "fingerprint": mark.fingerprint,
        "kind": mark.kind.value,
        "externals": [photo.fingerprint for photo in externals],
    }
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    try:
        with os.fdopen(fd, "wb") as fh:
            with zipfile.ZipFile(fh, "w", zipfile.ZIP_STORED) as archive:
                archive.writestr("record.json", json.dumps(record, indent=2))
                for index, photo in enumerate(externals):
                    archive.writestr(f"{index:04d}.pixels.npy", _npy(photo.pixels))
                    archive.writestr(f"{index:04d}.mask.npy", _npy(photo.mask))
            if fsync:
                fh.flush()
                os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def read_pool_file(data: bytes, path: Path, mark: Mark) -> list[Mark]:
    """The external marks in pool file ``data`` (read from ``path``) of ``mark``.

    Raises ``DamagedMarkError`` naming ``path`` when the file is damaged, belongs to
    another mark (e.g. one replaced with ``--force``), or an external's pixels do not
    match their recorded fingerprint.
    """

    def damaged(problem: str) -> DamagedMarkError:
        return DamagedMarkError(mark.name, path, problem)

    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            record = json.loads(archive.read("record.json"))
            if not isinstance(record, dict) or not isinstance(record.get("externals"), list):
                raise damaged("holds no list of external marks")
            if record.get("fingerprint") != mark.fingerprint:
                raise damaged("belongs to another mark of that name (replaced since?)")
            kind = MarkKind(str(record.get("kind")))
            externals = []
            for index, fingerprint in enumerate(record["externals"]):
                pixels = np.lib.format.read_array(
                    io.BytesIO(archive.read(f"{index:04d}.pixels.npy")), allow_pickle=False
                )
                mask = np.lib.format.read_array(
                    io.BytesIO(archive.read(f"{index:04d}.mask.npy")), allow_pickle=False
                )
                if pixels.dtype != np.uint8 or mask.dtype != np.uint8:
                    raise damaged(f"holds external {index + 1} in {pixels.dtype}, not uint8")
                external = Mark(
                    name=f"external-{index + 1}",
                    kind=kind,
                    pixels=pixels.astype(np.float32) / 255.0,
                    mask=mask.astype(np.float32) / 255.0,
                )
                if external.fingerprint != fingerprint:
                    raise damaged(f"holds external {index + 1} that does not match its record")
                externals.append(external)
    except DamagedMarkError:
        raise
    except (zipfile.BadZipFile, KeyError, EOFError, ValueError, UnicodeDecodeError) as exc:
        raise damaged(f"is truncated or not a pool file ({exc})") from None
    return externals
