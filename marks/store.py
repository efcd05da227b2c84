"""The private store: marks and manifests, readable by their owner only.

Layout under the root (``--store DIR``, else ``$ISOTOPE_HOME``, else the platform's
user data folder)::

    marks/NAME.mark     one file per mark: a zip of record.json (kind, seed,
                        parameters, fingerprint, commitment with its salt),
                        pixels.npy and mask.npy (uint8)
    marks/NAME.json     older stores: the record and the pixels (NAME.npz) apart;
    marks/NAME.npz        still read, and replaced by NAME.mark on --force
    manifests/*.json    one per marking or upload preparation
    externals/NAME.keys.json  the secret keys a mark's fresh external marks are drawn
                        from (``marks.external_seeds``), made on its first audit
    externals/NAME.pool the external marks of a mark drawn from a photo pool
                        (``marks.pool``, ``marks.pool_file``)
    journals/*.jsonl    marking journals of runs not finished yet (``marks.journal``)
    .lock               held while a mark is added, so concurrent adds queue

Directories are 0700 and files 0600. The store refuses to work in a directory that
other users can read or enter: it names the path and the ``chmod`` that fixes a
folder of its own, and asks for a folder of the person's own instead of a shared or
foreign one (``/tmp``, a home folder). A mark file is created whole under its final
name or not at all, and a name already held is refused even when several processes
race for it.
"""

from __future__ import annotations

import contextlib
import fcntl
import io
import json
import os
import re
import secrets
import stat
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import platformdirs

from marks.atomic import write_atomic, write_exclusive
from marks.commitment import make_commitment
from marks.distance import MIN_DISTANCE, linf_distance
from marks.errors import (
    DamagedMarkError,
    MarkExistsError,
    MarkTooCloseError,
    StoreError,
    StorePermissionError,
    UnknownMarkError,
)
from marks.journal import JournalError, read_journal
from marks.mark import Mark, MarkKind
from marks.pool import PoolDraw
from marks.pool_file import SUFFIX as POOL_SUFFIX
from marks.pool_file import read_pool_file, write_pool_file

ENV_HOME = "ISOTOPE_HOME"
DIR_MODE = 0o700
FILE_MODE = 0o600
NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")
MARK_SUFFIX = ".mark"
_STORE_ENTRIES = {"marks", "manifests", "journals", "externals", ".lock"}
_REQUIRED = ("name", "kind", "fingerprint", "commitment")


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


def _choose_own_folder() -> str:
    return (
        "choose a folder of your own for --store, used for nothing else, e.g. "
        f"{default_root()} (a new folder is created with mode 700)"
    )


def _dedicated(path: Path, info: os.stat_result) -> bool:
    # Only a folder used for the store alone may be narrowed with chmod: narrowing a
    # shared folder (/tmp, a home folder) would break it for its other uses.
    if info.st_mode & (stat.S_ISVTX | stat.S_IWOTH):
        return False
    try:
        return all(entry.name in _STORE_ENTRIES for entry in path.iterdir())
    except OSError:
        return False


def _check_private(path: Path, *, directory: bool, root: bool = False) -> None:
    info = path.stat()
    if info.st_uid != os.getuid():
        raise StorePermissionError(
            f"store path {path} belongs to another user (uid {info.st_uid}); "
            + _choose_own_folder()
        )
    mode = stat.S_IMODE(info.st_mode)
    if not directory and not stat.S_ISREG(info.st_mode):
        raise StorePermissionError(f"store path {path} is not a regular file")
    if mode & 0o077:
        if root and not _dedicated(path, info):
            raise StorePermissionError(
                f"store folder {path} is shared (mode {mode:04o}, holding more than a "
                f"store): other users could read your marks there; {_choose_own_folder()}"
            )
        want = "700" if directory else "600"
        raise StorePermissionError(
            f"store path {path} is accessible by other users "
            f"(mode {mode:04o}); fix it with: chmod {want} {path}"
        )


def _private_dir(path: Path, *, root: bool = False) -> Path:
    if path.exists():
        if not path.is_dir():
            raise StoreError(f"store path {path} exists and is not a directory")
    else:
        path.mkdir(parents=True, mode=DIR_MODE)
        os.chmod(path, DIR_MODE)  # the umask may have narrowed it; never widened
    _check_private(path, directory=True, root=root)
    return path


@dataclass(frozen=True)
class HeldMark:
    """One entry of ``MarkStore.listing``: the record, or why the mark cannot be used."""

    name: str
    record: dict | None
    problem: str | None  # a one-line message naming the damaged file, else None


def _mark_file_bytes(record: dict, pixels: np.ndarray, mask: np.ndarray) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as archive:
        archive.writestr("record.json", json.dumps(record, indent=2))
        for member, array in (("pixels.npy", pixels), ("mask.npy", mask)):
            encoded = io.BytesIO()
            np.lib.format.write_array(encoded, array, allow_pickle=False)
            archive.writestr(member, encoded.getvalue())
    return buf.getvalue()


def _parse_record(name: str, path: Path, data: bytes) -> dict:
    try:
        record = json.loads(data)
    except UnicodeDecodeError:
        raise DamagedMarkError(name, path, "is not UTF-8 text") from None
    except json.JSONDecodeError as exc:
        raise DamagedMarkError(
            name, path, f"is not valid JSON (line {exc.lineno}, column {exc.colno})"
        ) from None
    if not isinstance(record, dict):
        raise DamagedMarkError(name, path, "does not hold a JSON object")
    missing = [key for key in _REQUIRED if key not in record]
    if missing:
        raise DamagedMarkError(name, path, f"lacks {', '.join(map(repr, missing))}")
    commitment = record["commitment"]
    if not isinstance(commitment, dict) or not all(
        isinstance(commitment.get(key), str) for key in ("value", "salt")
    ):
        raise DamagedMarkError(name, path, "holds an incomplete commitment")
    if not isinstance(record["fingerprint"], str) or record["name"] != name:
        raise DamagedMarkError(name, path, "holds a record of another mark or a bad fingerprint")
    try:
        MarkKind(record["kind"])
    except ValueError:
        raise DamagedMarkError(name, path, f"names an unknown kind {record['kind']!r}") from None
    return record


def _read_array(name: str, path: Path, data: bytes) -> np.ndarray:
    try:
        array = np.lib.format.read_array(io.BytesIO(data), allow_pickle=False)
    except (ValueError, EOFError, OSError) as exc:
        raise DamagedMarkError(name, path, f"holds a damaged array ({exc})") from None
    if array.dtype != np.uint8:
        raise DamagedMarkError(name, path, f"holds {array.dtype} pixels instead of uint8")
    return array


class MarkStore:
    """Marks and manifests in a private directory. Use ``MarkStore.open``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.marks_dir = root / "marks"
        self.manifests_dir = root / "manifests"
        self.journals_dir = root / "journals"
        self.externals_dir = root / "externals"

    @classmethod
    def open(cls, root: Path | None = None) -> MarkStore:
        """Open (creating if needed) the store at ``root`` or the default location.

        Raises ``StorePermissionError`` when a store directory is accessible by others.
        """
        root = Path(root).expanduser().absolute() if root else default_root().absolute()
        _private_dir(root, root=True)
        store = cls(root)
        _private_dir(store.marks_dir)
        _private_dir(store.manifests_dir)
        return store

    def journals(self) -> Path:
        """The journals folder, created private on first use (``StoreError`` if it cannot be)."""
        try:
            return _private_dir(self.journals_dir)
        except StorePermissionError:
            raise
        except OSError as exc:
            raise StoreError(
                f"cannot create the journals folder {self.journals_dir} "
                f"({exc.strerror or exc}); marking needs a writable store"
            ) from None

    def externals(self) -> Path:
        """The folder of external-mark keys and pools, created private on first use."""
        try:
            return _private_dir(self.externals_dir)
        except StorePermissionError:
            raise
        except OSError as exc:
            raise StoreError(
                f"cannot create the externals folder {self.externals_dir} "
                f"({exc.strerror or exc}); auditing needs a writable store"
            ) from None

    def locked(self) -> contextlib.AbstractContextManager[None]:
        """The store's write lock, for modules keeping per-mark files beside the marks."""
        return self._locked()

    def read_private(self, path: Path) -> bytes:
        """The bytes of store file ``path``, refused when other users can read it."""
        return self._read(path)

    @contextlib.contextmanager
    def _locked(self) -> Iterator[None]:
        # Concurrent `marks new` runs queue here; the distance check and the write
        # then see every mark added before them.
        fd = os.open(self.root / ".lock", os.O_RDWR | os.O_CREAT, FILE_MODE)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    # -- marks ---------------------------------------------------------------

    def _mark_file(self, name: str) -> Path:
        return self.marks_dir / f"{name}{MARK_SUFFIX}"

    def names(self) -> list[str]:
        """Names of the held marks (damaged ones included), sorted."""
        current = {p.name[: -len(MARK_SUFFIX)] for p in self.marks_dir.glob(f"*{MARK_SUFFIX}")}
        older = {p.stem for p in self.marks_dir.glob("*.json")}
        return sorted(current | older)

    def __contains__(self, name: str) -> bool:
        return self._mark_file(name).exists() or (self.marks_dir / f"{name}.json").exists()

    def add(
        self,
        mark: Mark,
        *,
        force: bool = False,
        purpose: str | None = None,
        default_alpha: float | None = None,
        pool: PoolDraw | None = None,
    ) -> dict:
        """Store ``mark`` and return its metadata record (see ``info``).

        Refuses (``MarkExistsError``) a name already held unless ``force`` replaces it,
        and (``MarkTooCloseError``) a mark within normalized L∞ ``MIN_DISTANCE`` of a
        held mark unless ``force``. Concurrent adds of one name: one wins, the others
        get ``MarkExistsError``; the mark file is always one run's complete mark.
        ``purpose`` and ``default_alpha`` are recorded (``marks.purposes``); ``pool``
        (a mark drawn from a photo pool) keeps the pool's other photos as its externals.
        """
        if pool is not None and pool.mark is not mark:
            raise ValueError("pool must be the draw that made this mark")
        check_name(mark.name)
        with self._locked():
            if mark.name in self and not force:
                raise self._exists(mark.name)
            if not force:
                for other in self.names():
                    if other == mark.name:
                        continue
                    distance = linf_distance(mark, self.get(other))
                    if distance < MIN_DISTANCE:
                        raise MarkTooCloseError(mark.name, other, distance, MIN_DISTANCE)
            record = self._new_record(mark)
            record["purpose"] = purpose
            record["default_alpha"] = default_alpha
            if pool is not None:
                record["pool"] = {"size": pool.size}
                # Before the mark itself: a mark file is never without its externals.
                self.externals()
                write_pool_file(self._pool_file(mark.name), mark=mark, externals=pool.externals)
            elif force:
                self._pool_file(mark.name).unlink(missing_ok=True)  # the replaced mark's
            data = _mark_file_bytes(
                record,
                np.round(mark.pixels * 255).astype(np.uint8),
                np.round(mark.mask * 255).astype(np.uint8),
            )
            target = self._mark_file(mark.name)
            if force:
                write_atomic(target, data, mode=FILE_MODE, fsync=True)
                for old in (f"{mark.name}.json", f"{mark.name}.npz"):  # the record first
                    (self.marks_dir / old).unlink(missing_ok=True)
            else:
                try:
                    write_exclusive(target, data, mode=FILE_MODE, fsync=True)
                except FileExistsError:
                    raise self._exists(mark.name) from None
        return record

    def _pool_file(self, name: str) -> Path:
        return self.externals_dir / f"{name}{POOL_SUFFIX}"

    def pool_externals(self, name: str) -> list[Mark] | None:
        """The external marks of pool mark ``name`` (the pool's other photos), else None.

        Raises ``DamagedMarkError`` when the mark records a pool whose file is missing,
        damaged or belongs to another mark.
        """
        record = self.info(name)
        if not isinstance(record.get("pool"), dict):
            return None
        path = self._pool_file(name)
        if not path.exists():
            raise DamagedMarkError(name, path, "is missing (the mark's pool of externals)")
        return read_pool_file(self._read(path), path, self.get(name))

    def default_alpha(self, name: str) -> float | None:
        """The α mark ``name`` records for marking (``marks new --for``), else None."""
        value = self.info(name).get("default_alpha")
        return float(value) if isinstance(value, int | float) else None

    def _exists(self, name: str) -> MarkExistsError:
        return MarkExistsError(
            f"a mark named {name!r} is already held in {self.root}; "
            "pick another name (or --force to replace it)"
        )

    @staticmethod
    def _new_record(mark: Mark) -> dict:
        commitment = make_commitment(mark.fingerprint)
        return {
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

    def _load(
        self, name: str, *, arrays: bool
    ) -> tuple[dict, np.ndarray | None, np.ndarray | None]:
        check_name(name)
        path = self._mark_file(name)
        if path.exists():
            try:
                with zipfile.ZipFile(io.BytesIO(self._read(path))) as archive:
                    record = _parse_record(name, path, archive.read("record.json"))
                    if not arrays:
                        return record, None, None
                    pixels = _read_array(name, path, archive.read("pixels.npy"))
                    mask = _read_array(name, path, archive.read("mask.npy"))
            except (zipfile.BadZipFile, KeyError, EOFError, zipfile.LargeZipFile) as exc:
                raise DamagedMarkError(
                    name, path, f"is truncated or not a mark file ({exc})"
                ) from None
            return record, pixels, mask
        path = self.marks_dir / f"{name}.json"
        if not path.exists():
            raise UnknownMarkError(name, self.root, self.names())
        record = _parse_record(name, path, self._read(path))
        if not arrays:
            return record, None, None
        npz = self.marks_dir / f"{name}.npz"
        try:
            with np.load(io.BytesIO(self._read(npz)), allow_pickle=False) as data:
                pixels, mask = data["pixels"], data["mask"]
        except (zipfile.BadZipFile, KeyError, EOFError, ValueError, OSError) as exc:
            raise DamagedMarkError(name, npz, f"is truncated or not a mark file ({exc})") from None
        return record, pixels, mask

    def info(self, name: str) -> dict:
        """The metadata record of mark ``name`` (kind, seed, params, fingerprint, commitment).

        Raises ``UnknownMarkError`` when it is not held, ``DamagedMarkError`` naming the
        file when its record is unreadable or incomplete.
        """
        return self._load(name, arrays=False)[0]

    def get(self, name: str) -> Mark:
        """Load mark ``name``, checked against its recorded fingerprint.

        Raises ``UnknownMarkError`` when it is not held, ``DamagedMarkError`` naming the
        file when it is truncated, incomplete, or its pixels do not match its record.
        """
        record, pixels, mask = self._load(name, arrays=True)
        assert pixels is not None and mask is not None
        path = self._mark_file(name)
        if not path.exists():
            path = self.marks_dir / f"{name}.npz"  # an older store's pixels
        try:
            mark = Mark(
                name=name,
                kind=MarkKind(record["kind"]),
                pixels=pixels.astype(np.float32) / 255.0,
                mask=mask.astype(np.float32) / 255.0,
                seed=record.get("seed"),
                params=record.get("params", {}),
            )
        except ValueError as exc:
            raise DamagedMarkError(name, path, f"holds unusable arrays ({exc})") from None
        if mark.fingerprint != record["fingerprint"]:
            raise DamagedMarkError(
                name, path, "holds pixels that do not match the recorded fingerprint"
            )
        return mark

    def listing(self) -> list[HeldMark]:
        """Every held mark with its record, or the one-line problem of a damaged one.

        Unlike ``info`` on each name, one damaged mark does not hide the others.
        """
        held = []
        for name in self.names():
            try:
                self.get(name)
                held.append(HeldMark(name, self.info(name), None))
            except (DamagedMarkError, StorePermissionError) as exc:
                held.append(HeldMark(name, None, str(exc)))
        return held

    def _read(self, path: Path) -> bytes:
        try:
            _check_private(path, directory=False)
            return path.read_bytes()
        except FileNotFoundError:
            raise StoreError(f"store file {path} is missing (store damaged?)") from None

    # -- manifests -----------------------------------------------------------

    def save_manifest(self, manifest: dict, *, label: str, name: str | None = None) -> Path:
        """Write ``manifest`` as a private JSON file and return its path.

        A new file per call, or ``manifests/NAME.json`` (replaced) when ``name`` is given.
        """
        if name is None:
            stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
            safe = re.sub(r"[^A-Za-z0-9_.-]", "_", label)[:64]
            name = f"{stamp}-{safe}-{secrets.token_hex(3)}"
        path = self.manifests_dir / f"{name}.json"
        write_atomic(path, json.dumps(manifest, indent=2).encode(), mode=FILE_MODE, fsync=True)
        return path

    def manifests(self) -> list[dict]:
        """Every manifest in the store, oldest first (by its ``created`` field).

        A marking still unfinished (killed, or waiting for a resume) counts too: its
        journal's run fields, ``"complete": false`` and ``"journal"``.
        """
        loaded = []
        for path in self.manifests_dir.glob("*.json"):
            try:
                loaded.append(json.loads(self._read(path)))
            except (json.JSONDecodeError, UnicodeDecodeError):
                continue  # a foreign or damaged file is not a manifest
        for path in self.journals_dir.glob("*.jsonl"):
            with contextlib.suppress(JournalError):
                contents = read_journal(path)
                if contents.finished is None:
                    loaded.append({**contents.manifest, "complete": False, "journal": str(path)})
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
