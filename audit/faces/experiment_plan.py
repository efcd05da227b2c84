"""Reading an enroll-and-probe plan made by ``isotope prepare rekognition``.

The plan folder holds the images (``enroll/`` and ``probe/``) and ``enroll.json``;
which image is in which set, carries which mark and came from which original is kept
only in the plan's manifest in the private store (type ``rekognition-plan``, its
``out_dir`` the plan folder). Both are needed: the folder for the bytes, the manifest
for the roles.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from audit.errors import AuditInputError
from marks.store import MarkStore
from providers.query import QueryImage

ROLES = ("set1", "set2", "set3")


@dataclass(frozen=True)
class PlanImage:
    """One image of the plan: its identity, set, file, ExternalImageId (enrolled sets
    only), original and the fingerprint of the mark it carries."""

    identity: str
    role: str
    file: Path
    external_id: str | None
    source: Path
    mark_name: str
    mark_fingerprint: str
    sha256: str | None

    def image(self) -> QueryImage:
        """The image as the plan wrote it."""
        try:
            data = self.file.read_bytes()
        except OSError as exc:
            raise AuditInputError(
                f"plan image {self.file} cannot be read ({exc.strerror or exc})"
            ) from None
        return QueryImage(data=data, mime_type="image/jpeg")


@dataclass(frozen=True)
class ExperimentPlan:
    """A plan: its folder, α, set1's mark (name, fingerprint), set2's marks, its images."""

    folder: Path
    alpha: float
    mark_name: str
    mark_fingerprint: str
    set2_marks: list[dict]
    images: list[PlanImage]

    def role(self, role: str) -> list[PlanImage]:
        """The images of one set, in plan order."""
        return [image for image in self.images if image.role == role]

    @property
    def enrolled(self) -> list[PlanImage]:
        """set1 and set2: the images to enroll."""
        return [image for image in self.images if image.role != "set3"]

    @property
    def identities(self) -> list[str]:
        """The identities, in plan order."""
        return list(dict.fromkeys(image.identity for image in self.images))


def _manifest(store: MarkStore, folder: Path) -> dict:
    wanted = str(folder)
    plans = [
        manifest
        for manifest in store.manifests()
        if manifest.get("type") == "rekognition-plan"
        and Path(str(manifest.get("out_dir", ""))).resolve() == Path(wanted)
    ]
    if not plans:
        raise AuditInputError(
            f"the store holds no plan for {folder}: make it with `isotope prepare rekognition "
            "... --out PLAN` using this store (--store), or pass that store"
        )
    return plans[-1]


def load_plan(folder: Path, store: MarkStore) -> ExperimentPlan:
    """The plan in ``folder`` with its roles from the store's manifest.

    Raises ``AuditInputError`` when the folder or its manifest is missing, or the
    manifest does not read as a plan.
    """
    folder = Path(folder).resolve()
    if not folder.is_dir():
        raise AuditInputError(f"plan folder {folder} does not exist")
    manifest = _manifest(store, folder)
    try:
        images = [
            PlanImage(
                identity=identity,
                role=role,
                file=folder / entry["file"],
                external_id=entry.get("external_image_id"),
                source=Path(entry["source"]),
                mark_name=entry["mark"],
                mark_fingerprint=entry["mark_fingerprint"],
                sha256=entry.get("sha256"),
            )
            for identity, sets in manifest["identities"].items()
            for role in ROLES
            for entry in sets.get(role, [])
        ]
        return ExperimentPlan(
            folder=folder,
            alpha=float(manifest["alpha"]),
            mark_name=manifest["mark"]["name"],
            mark_fingerprint=manifest["mark"]["fingerprint"],
            set2_marks=list(manifest.get("set2_marks", [])),
            images=images,
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise AuditInputError(f"the plan manifest of {folder} is incomplete: {exc!r}") from None
