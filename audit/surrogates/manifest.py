"""A surrogate folder's manifest: which models, for which mark and label, trained on what.

``DIR/surrogate.json`` (0600, beside the model files): private, because it names the
mark and the label the person audits, but it holds no secret that rebuilds a mark —
the decoys' seeds stay in the store (``marks.decoys``), tied to ``decoy_set``.
``public()`` is what reports show: no fingerprint, no paths beyond the data folder.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

from audit.surrogates.errors import SurrogateError
from marks.atomic import write_atomic

FORMAT = "isotope-surrogate/1"
MANIFEST = "surrogate.json"
DECOY = "decoy"
CLEAN = "clean"
ROLES = (DECOY, CLEAN)


@dataclass(frozen=True)
class SurrogateModel:
    """One model file of the set: a decoy surrogate or a clean one."""

    file: str  # relative to the folder
    role: str  # DECOY or CLEAN
    seed: int  # training seed (not secret: it rebuilds no mark)
    val_acc: float | None
    seconds: float


@dataclass(frozen=True)
class SurrogateManifest:
    """What a surrogate folder holds and how it was made (written by ``train``)."""

    mark: str
    fingerprint: str  # the audited mark's: the set is refused for any other mark
    kind: str  # the mark's kind; decoys are of the same kind
    label: str  # j: where the decoys were blended in
    alpha: float
    fraction: float
    decoy_set: str | None  # the store's id of the decoys' seeds (None without decoys)
    models: list[SurrogateModel]
    data: dict  # folder, labels, images, images of label j
    arch: str
    epochs: int
    device: str
    seconds: float
    created: str
    format: str = FORMAT
    notes: list[str] = field(default_factory=list)

    @property
    def decoys(self) -> int:
        """How many decoy surrogates the set holds."""
        return sum(model.role == DECOY for model in self.models)

    @property
    def clean(self) -> int:
        """How many clean surrogates the set holds."""
        return sum(model.role == CLEAN for model in self.models)

    def describe(self) -> str:
        """One sentence for people: what the surrogates are and what they saw."""
        parts = []
        if self.decoys:
            parts.append(
                f"{_count(self.decoys, 'decoy surrogate')} (each learned a fresh secret "
                f"{self.kind} mark blended at α {self.alpha:g} into {self.fraction:g} of "
                f"{self.label!r})"
            )
        if self.clean:
            parts.append(_count(self.clean, "clean surrogate"))
        data = self.data
        return (
            " and ".join(parts)
            + f", trained locally ({self.arch}, {self.epochs} epochs) on {data['images']} "
            f"images of {len(data['labels'])} labels from {data['folder']} "
            f"({data['label_images']} of {self.label!r}, no recorded marked copy of your mark)"
        )

    def public(self) -> dict:
        """What reports show (no fingerprint)."""
        return {
            "describe": self.describe(),
            "decoys": self.decoys,
            "clean": self.clean,
            "label": self.label,
            "alpha": self.alpha,
            "fraction": self.fraction,
            "arch": self.arch,
            "epochs": self.epochs,
            "data": self.data,
            "models": [asdict(model) for model in self.models],
            "created": self.created,
        }


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}{'' if n == 1 else 's'}"


def write_manifest(folder: Path, manifest: SurrogateManifest) -> Path:
    """Write ``folder/surrogate.json`` (0600, atomically); returns its path."""
    path = Path(folder) / MANIFEST
    write_atomic(path, json.dumps(asdict(manifest), indent=2).encode(), mode=0o600, fsync=True)
    return path


def read_manifest(folder: Path) -> SurrogateManifest:
    """The manifest of surrogate folder ``folder``; ``SurrogateError`` naming the problem."""
    folder = Path(folder)
    path = folder / MANIFEST
    if not path.is_file():
        raise SurrogateError(
            f"{folder} is not a surrogate folder (no {MANIFEST}): make one with "
            "`isotope surrogate train`"
        )
    if os.stat(path).st_mode & 0o077:
        raise SurrogateError(
            f"{path} can be read by other users; it names the mark and label you audit: "
            f"chmod 600 {path}"
        )
    try:
        record = json.loads(path.read_text())
        if record.get("format") != FORMAT:
            raise ValueError(f"format {record.get('format')!r}, expected {FORMAT}")
        models = [SurrogateModel(**model) for model in record.pop("models")]
        manifest = SurrogateManifest(**record, models=models)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise SurrogateError(f"{path} is not a readable surrogate manifest ({exc})") from None
    bad = [model.role for model in manifest.models if model.role not in ROLES]
    if bad or not manifest.models:
        raise SurrogateError(f"{path} lists no usable models (roles {bad or 'none'})")
    return manifest
