"""The private store: marks and manifests, readable by their owner only.

Layout under the root (``--store DIR``, else ``$ISOTOPE_HOME``, else the platform's
user data folder)::

    marks/NAME.npz      pixels and mask (uint8)
    marks/NAME.json     kind, seed, parameters, fingerprint, commitment (with its salt)
    manifests/*.json    one per marking or upload preparation

Directories are 0700 and files 0600. The store refuses to work in a directory that
other users can read or enter, naming the path and the ``chmod`` that fixes it.
"""

from __future__ import annotations

import io
import json
import os
import re
import secrets
import stat
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import platformdirs

from marks.atomic import write_atomic
from marks.commitment import make_commitment
from marks.distance import MIN_DISTANCE, linf_distance
from marks.errors import (
    MarkExistsError,
    MarkTooCloseError,
    StoreError,
    StorePermissionError,
    UnknownMarkError,
)
from marks.mark import Mark, MarkKind

ENV_HOME = "ISOTOPE_HOME"
DIR_MODE = 0o700
FILE_MODE = 0o600
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def default_root() -> Path:
    """``$ISOTOPE_HOME`` if set, else the platform's user data folder for isotope-audit."""
    env = os.environ.get(ENV_HOME)
    if env:
        return Path(env).expanduser()
    return Path(platformdirs.user_data_dir("isotope-audit", appauthor=False))


def check_name(name: str) -> str:
    """Return ``name`` if it is a valid mark name, else raise ``StoreError``."""
    if not NAME_PATTERN.fullmatch(name or ""):
        raise StoreError(
            f"invalid mark name {name!r}: use 1-64 letters, digits, '_', '.', '-', "
            "starting with a letter or digit"
        )
    return name


def _check_private(path: Path, *, directory: bool) -> None:
    info = path.stat()
    if info.st_uid != os.getuid():
        raise StorePermissionError(
            f"store path {path} is owned by another user (uid {info.st_uid})"
        )
    if stat.S_IMODE(info.st_mode) & 0o077:
        want = "700" if directory else "600"
        raise StorePermissionError(
            f"store path {path} is accessible by other users "
            f"(mode {stat.S_IMODE(info.st_mode):04o}); fix it with: chmod {want} {path}"
        )


def _private_dir(path: Path) -> Path:
    if path.exists():
        if not path.is_dir():
            raise StoreError(f"store path {path} exists and is not a directory")
    else:
        path.mkdir(parents=True, mode=DIR_MODE)
        os.chmod(path, DIR_MODE)  # the umask may have narrowed it; never widened
    _check_private(path, directory=True)
    return path


class MarkStore:
    """Marks and manifests in a private directory. Use ``MarkStore.open``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.marks_dir = root / "marks"
        self.manifests_dir = root / "manifests"

    @classmethod
    def open(cls, root: Path | None = None) -> MarkStore:
        """Open (creating if needed) the store at ``root`` or the default location.

        Raises ``StorePermissionError`` when a store directory is accessible by others.
        """
        root = Path(root).expanduser().absolute() if root else default_root().absolute()
        _private_dir(root)
        store = cls(root)
        _private_dir(store.marks_dir)
        _private_dir(store.manifests_dir)
        return store

    # -- marks ---------------------------------------------------------------

    def names(self) -> list[str]:
        """Names of the held marks, sorted."""
        return sorted(p.stem for p in self.marks_dir.glob("*.json"))

    def __contains__(self, name: str) -> bool:
        return (self.marks_dir / f"{name}.json").exists()

    def add(self, mark: Mark, *, force: bool = False) -> dict:
        """Store ``mark`` and return its metadata record (see ``info``).

        Refuses (``MarkExistsError``) a name already held unless ``force`` replaces it,
        and (``MarkTooCloseError``) a mark within normalized L∞ ``MIN_DISTANCE`` of a
        held mark unless ``force``.
        """
        check_name(mark.name)
        if mark.name in self and not force:
            raise MarkExistsError(
                f"a mark named {mark.name!r} is already held in {self.root}; "
                "pick another name (or --force to replace it)"
            )
        if not force:
            for other in self.names():
                if other == mark.name:
                    continue
                distance = linf_distance(mark, self.get(other))
                if distance < MIN_DISTANCE:
                    raise MarkTooCloseError(mark.name, other, distance, MIN_DISTANCE)
        commitment = make_commitment(mark.fingerprint)
        record = {
            "name": mark.name,
            "kind": mark.kind.value,
            "seed": mark.seed,
            "params": mark.params,
            "height": int(mark.pixels.shape[0]),
            "width": int(mark.pixels.shape[1]),
            "fingerprint": mark.fingerprint,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "commitment": {
                "scheme": commitment.scheme,
                "value": commitment.value,
                "salt": commitment.salt,
            },
        }
        buf = io.BytesIO()
        np.savez(
            buf,
            pixels=np.round(mark.pixels * 255).astype(np.uint8),
            mask=np.round(mark.mask * 255).astype(np.uint8),
        )
        write_atomic(
            self.marks_dir / f"{mark.name}.npz", buf.getvalue(), mode=FILE_MODE, fsync=True
        )
        write_atomic(
            self.marks_dir / f"{mark.name}.json",
            json.dumps(record, indent=2).encode(),
            mode=FILE_MODE,
            fsync=True,
        )
        return record

    def info(self, name: str) -> dict:
        """The metadata record of mark ``name`` (kind, seed, params, fingerprint, commitment)."""
        path = self.marks_dir / f"{check_name(name)}.json"
        if not path.exists():
            raise UnknownMarkError(name, self.root, self.names())
        return json.loads(self._read(path))

    def get(self, name: str) -> Mark:
        """Load mark ``name``; raises ``UnknownMarkError`` when it is not held."""
        record = self.info(name)
        with np.load(io.BytesIO(self._read(self.marks_dir / f"{name}.npz"))) as data:
            pixels = data["pixels"].astype(np.float32) / 255.0
            mask = data["mask"].astype(np.float32) / 255.0
        return Mark(
            name=name,
            kind=MarkKind(record["kind"]),
            pixels=pixels,
            mask=mask,
            seed=record.get("seed"),
            params=record.get("params", {}),
        )

    def _read(self, path: Path) -> bytes:
        try:
            _check_private(path, directory=False)
            return path.read_bytes()
        except FileNotFoundError:
            raise StoreError(f"store file {path} is missing (store damaged?)") from None

    # -- manifests -----------------------------------------------------------

    def save_manifest(self, manifest: dict, *, label: str) -> Path:
        """Write ``manifest`` as a new private JSON file and return its path."""
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        safe = re.sub(r"[^A-Za-z0-9_.-]", "_", label)[:64]
        path = self.manifests_dir / f"{stamp}-{safe}-{secrets.token_hex(3)}.json"
        write_atomic(path, json.dumps(manifest, indent=2).encode(), mode=FILE_MODE, fsync=True)
        return path

    def manifests(self) -> list[dict]:
        """Every manifest in the store, oldest first (by its ``created`` field)."""
        loaded = []
        for path in self.manifests_dir.glob("*.json"):
            try:
                loaded.append(json.loads(self._read(path)))
            except (json.JSONDecodeError, UnicodeDecodeError):
                continue  # a foreign or damaged file is not a manifest
        return sorted(loaded, key=lambda m: m.get("created", ""))

    def posted_alpha(self, name: str) -> float | None:
        """α from the newest marking manifest that used mark ``name``, or None.

        Only manifests with the held mark's fingerprint count: a mark replaced with
        ``--force`` under the same name has not been posted yet. None also for a name
        the store does not hold.
        """
        if name not in self:
            return None
        fingerprint = self.info(name)["fingerprint"]
        alphas = [
            m["alpha"]
            for m in self.manifests()
            if m.get("type") == "marking"
            and m.get("mark", {}).get("name") == name
            and m.get("mark", {}).get("fingerprint") == fingerprint
        ]
        return float(alphas[-1]) if alphas else None
