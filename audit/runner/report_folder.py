"""Where a report will go, checked before the first query is paid for.

A report is written at the end of an audit; a path that cannot take it would fail
only after every query was paid. So before anything is sent the folder must be new or
empty (a report is never written over another) and writable.
"""

from __future__ import annotations

import os
from pathlib import Path

from audit.errors import ReportError


def check_report_folder(folder: Path) -> Path:
    """Return ``folder`` if a report can be written there, else raise ``ReportError``.

    Refused: an existing file, a folder that already holds files, and a place that
    cannot be created or written. Nothing is created.
    """
    folder = Path(folder)
    if folder.exists():
        if not folder.is_dir():
            raise ReportError(f"--report {folder} is a file; give a new folder for the report")
        if any(folder.iterdir()):
            raise ReportError(
                f"--report {folder} already holds files; reports are never written over "
                "one another: give a new folder"
            )
        existing = folder
    else:
        existing = folder.parent
        while not existing.exists() and existing != existing.parent:
            existing = existing.parent  # the missing folders are created at the end
        if not existing.is_dir():
            raise ReportError(f"--report {folder}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise ReportError(f"--report {folder}: cannot write in {existing}")
    return folder
