"""A small record of the Vertex AI resources a workspace started, so work can resume.

Training and deployment run for hours on Google's side and keep running when the CLI
is interrupted. Each started resource is recorded here (file mode 0600, written
atomically) under a key saying what it was for, so a rerun finds it and waits for it
instead of paying again.
"""

from __future__ import annotations

import json
import os
import tempfile
import threading
import time
from pathlib import Path

from providers.errors import ProviderOptionError

OPLOG_FILE = "vertex-operations.json"


class OperationLog:
    """``{key: {"kind", "name", "state", "time", ...}}`` in a JSON file."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._lock = threading.Lock()

    @classmethod
    def in_workspace(cls, workspace: Path) -> OperationLog:
        """The log of ``workspace`` (the folder is created private if missing)."""
        workspace = Path(workspace)
        workspace.mkdir(parents=True, exist_ok=True, mode=0o700)
        return cls(workspace / OPLOG_FILE)

    def _read(self) -> dict[str, dict]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise ProviderOptionError(f"{self.path}: unreadable operation log ({exc})") from exc
        if not isinstance(data, dict):
            raise ProviderOptionError(f"{self.path}: operation log is not a JSON object")
        return data

    def get(self, key: str) -> dict | None:
        """The record under ``key``, if any."""
        with self._lock:
            return self._read().get(key)

    def records(self) -> dict[str, dict]:
        """Every record."""
        with self._lock:
            return self._read()

    def put(self, key: str, *, kind: str, name: str, **fields: object) -> dict:
        """Record (or update) ``key`` -> resource ``name`` of ``kind``; returns the record."""
        with self._lock:
            data = self._read()
            record = {**data.get(key, {}), **fields, "kind": kind, "name": name}
            record["time"] = time.time()
            data[key] = record
            self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd, tmp = tempfile.mkstemp(dir=self.path.parent, prefix=f".{self.path.name}.")
            try:
                os.fchmod(fd, 0o600)
                with os.fdopen(fd, "w", encoding="utf-8") as handle:
                    json.dump(data, handle, indent=2, sort_keys=True)
                os.replace(tmp, self.path)
            except BaseException:
                Path(tmp).unlink(missing_ok=True)
                raise
            return record
