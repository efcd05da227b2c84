"""What an interrupted marking left in ``--out``, told from its journal and the files there.

Each file in --out is hashed and matched with the journal's records for its path: a
match says which source it came from and whether it carries the mark. Also found:
leftover temporary files of an atomic write cut short (``.NAME.XXXXXXXX.tmp``), files
under a recorded name whose content matches no record (a write cut short by a power
cut), superseded outputs of a source whose state changed, and files the journal does
not know at all (someone else's).
"""

from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from marks.journal import JournalContents, Written

_TMP = re.compile(r"\.(?P<name>.+)\.[0-9a-f]{8}\.tmp")


@dataclass
class OutSurvey:
    """The files in --out sorted by what the journal says about them."""

    present: dict[str, Written] = field(default_factory=dict)  # source -> its output there
    stale: list[str] = field(default_factory=list)  # recorded outputs superseded later
    torn: list[str] = field(default_factory=list)  # recorded names, unrecorded content
    temporary: list[str] = field(default_factory=list)  # our atomic-write leftovers
    foreign: list[str] = field(default_factory=list)  # unknown to the journal

    @property
    def marked(self) -> list[Written]:
        """The outputs in --out that carry the mark."""
        return [w for w in self.present.values() if w.marked]

    def leftovers(self) -> list[str]:
        """Files a resumed run removes: temporary, cut short or superseded (all ours)."""
        return sorted(self.temporary + self.torn + self.stale)


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def survey_out(out: Path, journal: JournalContents) -> OutSurvey:
    """Sort every file under ``out`` by the journal's records (see the module docstring)."""
    order: dict[tuple[str, str], int] = {}  # (output, digest) -> index of its last record
    for index, written in enumerate(journal.writes):
        order[(written.output, written.output_sha256)] = index
    recorded_names = {w.output for w in journal.writes}
    recorded_files = {Path(name).name for name in recorded_names}
    survey = OutSurvey()
    best: dict[str, int] = {}  # source -> index of the record its present output matches
    for dirpath, _, filenames in os.walk(out):
        for name in filenames:
            path = Path(dirpath) / name
            rel = str(path.relative_to(out))
            tmp = _TMP.fullmatch(name)
            if tmp and tmp["name"] in recorded_files:
                survey.temporary.append(rel)
                continue
            if rel not in recorded_names or not path.is_file() or path.is_symlink():
                survey.foreign.append(rel)
                continue
            found = order.get((rel, _sha256(path)))
            if found is None:
                survey.torn.append(rel)
                continue
            index = found
            written = journal.writes[index]
            previous = best.get(written.source)
            if previous is None or index > previous:
                if previous is not None:
                    survey.stale.append(journal.writes[previous].output)
                best[written.source] = index
                survey.present[written.source] = written
            else:
                survey.stale.append(rel)
    survey.foreign.sort()
    return survey
