"""``FaceStore``: the local engine's collections and faces in one SQLite file.

Faces are personal data: the data folder is created private (0700) and the database
file is 0600. A collection records the face model version it was built with. Every
write to a collection gives it a new ``generation``, so a search reuses the descriptor
matrix it loaded before only while nothing changed (even when another process writes
to the same file).
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from providers.faces_local.engine import DESCRIPTOR_SIZE

DB_NAME = "faces.sqlite3"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS collections (
    collection_id TEXT PRIMARY KEY,
    arn TEXT NOT NULL,
    face_model_version TEXT NOT NULL,
    created REAL NOT NULL,
    generation TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS faces (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    face_id TEXT NOT NULL UNIQUE,
    collection_id TEXT NOT NULL REFERENCES collections(collection_id) ON DELETE CASCADE,
    image_id TEXT NOT NULL,
    external_id TEXT,
    box_left REAL NOT NULL,
    box_top REAL NOT NULL,
    box_width REAL NOT NULL,
    box_height REAL NOT NULL,
    confidence REAL NOT NULL,
    descriptor BLOB NOT NULL
);
CREATE INDEX IF NOT EXISTS faces_by_collection ON faces(collection_id, seq);
"""


class StoreError(Exception):
    """A collection operation cannot be done; the message says why."""


class NoSuchCollectionError(StoreError):
    """The collection does not exist."""


class CollectionTakenError(StoreError):
    """A collection of that id exists already."""


@dataclass(frozen=True)
class StoredCollection:
    """A collection's row and its face count."""

    collection_id: str
    arn: str
    face_model_version: str
    created: float  # seconds since the epoch
    face_count: int


@dataclass(frozen=True)
class StoredFace:
    """A face's row (box as fractions of the image, confidence 0–100)."""

    seq: int
    face_id: str
    image_id: str
    external_id: str | None
    box: tuple[float, float, float, float]  # left, top, width, height
    confidence: float


@dataclass(frozen=True)
class NewFace:
    """A face to store: where it was found and its descriptor."""

    external_id: str | None
    box: tuple[float, float, float, float]
    confidence: float
    descriptor: np.ndarray  # float32 (128,)


@dataclass(frozen=True)
class Gallery:
    """Every face of a collection and their descriptors (float32 (N, 128)), same order."""

    faces: tuple[StoredFace, ...]
    descriptors: np.ndarray


_FACE_COLUMNS = (
    "seq, face_id, image_id, external_id, box_left, box_top, box_width, box_height, confidence"
)


def _face(row: tuple) -> StoredFace:
    return StoredFace(row[0], row[1], row[2], row[3], (row[4], row[5], row[6], row[7]), row[8])


class FaceStore:
    """Collections and faces in ``data_dir/faces.sqlite3`` (thread-safe)."""

    def __init__(self, data_dir: Path) -> None:
        self.data_dir = Path(data_dir)
        self.data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.path = self.data_dir / DB_NAME
        if not self.path.exists():
            # Create it private before SQLite opens it with the process umask.
            os.close(os.open(self.path, os.O_CREAT | os.O_WRONLY, 0o600))
        self._db = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA foreign_keys = ON")
        self._db.execute("PRAGMA journal_mode = WAL")
        self._db.executescript(_SCHEMA)
        self._lock = threading.Lock()
        self._galleries: dict[str, tuple[str, Gallery]] = {}

    def close(self) -> None:
        """Close the database."""
        with self._lock:
            self._db.close()

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._db.execute("BEGIN IMMEDIATE")
            try:
                yield self._db
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")

    @staticmethod
    def _require(db: sqlite3.Connection, collection_id: str) -> tuple:
        row = db.execute(
            "SELECT arn, face_model_version, created, generation FROM collections "
            "WHERE collection_id = ?",
            (collection_id,),
        ).fetchone()
        if row is None:
            raise NoSuchCollectionError(f"collection {collection_id!r} does not exist")
        return row

    @staticmethod
    def _touch(db: sqlite3.Connection, collection_id: str) -> None:
        db.execute(
            "UPDATE collections SET generation = ? WHERE collection_id = ?",
            (uuid.uuid4().hex, collection_id),
        )

    def create_collection(self, collection_id: str, arn: str, version: str) -> StoredCollection:
        """Create an empty collection; ``CollectionTakenError`` when the id is taken."""
        created = time.time()
        with self._transaction() as db:
            try:
                db.execute(
                    "INSERT INTO collections VALUES (?, ?, ?, ?, ?)",
                    (collection_id, arn, version, created, uuid.uuid4().hex),
                )
            except sqlite3.IntegrityError:
                raise CollectionTakenError(f"collection {collection_id!r} already exists") from None
        return StoredCollection(collection_id, arn, version, created, 0)

    def collection(self, collection_id: str) -> StoredCollection:
        """A collection and its face count; ``NoSuchCollectionError`` when absent."""
        with self._transaction() as db:
            arn, version, created, _ = self._require(db, collection_id)
            (count,) = db.execute(
                "SELECT COUNT(*) FROM faces WHERE collection_id = ?", (collection_id,)
            ).fetchone()
        return StoredCollection(collection_id, arn, version, created, count)

    def list_collections(self, after: str | None, limit: int) -> list[StoredCollection]:
        """Up to ``limit`` collections in id order, starting after id ``after``."""
        with self._transaction() as db:
            rows = db.execute(
                "SELECT c.collection_id, c.arn, c.face_model_version, c.created, "
                "(SELECT COUNT(*) FROM faces f WHERE f.collection_id = c.collection_id) "
                "FROM collections c WHERE c.collection_id > ? ORDER BY c.collection_id LIMIT ?",
                (after or "", limit),
            ).fetchall()
        return [StoredCollection(*row) for row in rows]

    def delete_collection(self, collection_id: str) -> None:
        """Delete a collection and its faces; ``NoSuchCollectionError`` when absent."""
        with self._transaction() as db:
            self._require(db, collection_id)
            db.execute("DELETE FROM collections WHERE collection_id = ?", (collection_id,))
            self._galleries.pop(collection_id, None)

    def add_faces(
        self, collection_id: str, image_id: str, faces: Sequence[NewFace]
    ) -> list[StoredFace]:
        """Store faces found in one image; returns them with their new face ids."""
        stored = []
        with self._transaction() as db:
            self._require(db, collection_id)
            for face in faces:
                vector = np.asarray(face.descriptor, dtype=np.float32)
                if vector.shape != (DESCRIPTOR_SIZE,) or not np.isfinite(vector).all():
                    raise ValueError(f"a descriptor must be {DESCRIPTOR_SIZE} finite numbers")
                face_id = str(uuid.uuid4())
                cursor = db.execute(
                    "INSERT INTO faces (face_id, collection_id, image_id, external_id, box_left, "
                    "box_top, box_width, box_height, confidence, descriptor) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (
                        face_id,
                        collection_id,
                        image_id,
                        face.external_id,
                        *face.box,
                        face.confidence,
                        vector.tobytes(),
                    ),
                )
                seq = int(cursor.lastrowid or 0)
                stored.append(
                    StoredFace(seq, face_id, image_id, face.external_id, face.box, face.confidence)
                )
            if faces:
                self._touch(db, collection_id)
        return stored

    def list_faces(self, collection_id: str, after_seq: int, limit: int) -> list[StoredFace]:
        """Up to ``limit`` faces in the order they were stored, after ``after_seq``."""
        with self._transaction() as db:
            self._require(db, collection_id)
            rows = db.execute(
                f"SELECT {_FACE_COLUMNS} FROM faces WHERE collection_id = ? AND seq > ? "
                "ORDER BY seq LIMIT ?",
                (collection_id, after_seq, limit),
            ).fetchall()
        return [_face(row) for row in rows]

    def delete_faces(self, collection_id: str, face_ids: Sequence[str]) -> list[str]:
        """Delete faces by id; returns the ids that were there and are now gone."""
        deleted = []
        with self._transaction() as db:
            self._require(db, collection_id)
            for face_id in face_ids:
                cursor = db.execute(
                    "DELETE FROM faces WHERE collection_id = ? AND face_id = ?",
                    (collection_id, face_id),
                )
                if cursor.rowcount:
                    deleted.append(face_id)
            if deleted:
                self._touch(db, collection_id)
        return deleted

    def gallery(self, collection_id: str) -> Gallery:
        """Every face of a collection with its descriptor (cached until the next write)."""
        with self._transaction() as db:
            *_, generation = self._require(db, collection_id)
            cached = self._galleries.get(collection_id)
            if cached is not None and cached[0] == generation:
                return cached[1]
            rows = db.execute(
                f"SELECT {_FACE_COLUMNS}, descriptor FROM faces WHERE collection_id = ? "
                "ORDER BY seq",
                (collection_id,),
            ).fetchall()
            matrix = np.frombuffer(b"".join(row[9] for row in rows), dtype=np.float32)
            gallery = Gallery(
                faces=tuple(_face(row) for row in rows),
                descriptors=matrix.reshape(len(rows), DESCRIPTOR_SIZE),
            )
            self._galleries[collection_id] = (generation, gallery)
        return gallery
