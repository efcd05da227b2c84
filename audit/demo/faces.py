"""``isotope demo faces``: a third-party face audit end to end, on one machine, offline.

1. Sample faces (``audit.demo.face_samples``): a few are "your photos", the rest
   strangers.
2. A face mark (``marks.purposes.FACES``: kind and α chosen for faces) in a private
   store; ``isotope mark``'s engine marks some of your photos for posting.
3. The local face engine (dlib, Rekognition's protocol) on 127.0.0.1 holds two
   collections built by a "service": one enrolled the copies you posted, the other
   your unmarked originals; both hold the strangers.
4. Both are audited through boto3, the ledger and the report writer with the
   sequential face-match test. The verdicts are whatever the test says.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PIL import Image

from audit.demo.face_samples import lfw_faces
from audit.faces.enroll import Enroller, EnrollItem
from audit.faces.outcome import FaceAuditOutcome
from audit.faces.probes import probes_from_manifest
from audit.faces.request import FaceAuditRequest
from audit.faces.run import run_face_audit
from audit.spending.budget import Budget
from audit.spending.ledger import Ledger
from audit.verifiers.registry import build_verifier
from marks.folder_scan import scan_images
from marks.kinds import make_mark
from marks.marking import mark_folder
from marks.purposes import FACES
from marks.store import MarkStore
from providers.faces_local.server import FaceServer, serve_in_background
from providers.query import QueryImage
from providers.rekognition.collection import RekognitionCollection
from providers.rekognition.connection import RekognitionConnection

Log = Callable[[str], None]


@dataclass(frozen=True)
class FaceDemoConfig:
    """Sizes and settings (defaults finish in about a minute on 2 CPU cores)."""

    photos: int = 8  # your photos
    fraction: float = 0.5  # share of them posted marked
    strangers: int = 40
    method: str = "sequential"
    options: dict = field(default_factory=lambda: {"n": 4, "externals": 99, "level": 0.01})
    seed: int = 0


@dataclass
class FaceDemoSide:
    """One audited collection."""

    name: str
    holds: str
    outcome: FaceAuditOutcome


@dataclass
class FaceDemoResult:
    """Both audited collections and what the demo was run with."""

    sides: list[FaceDemoSide]
    alpha: float
    marked_files: int
    seconds: float
    workdir: Path

    def to_json(self) -> dict:
        """The ``--json`` object."""
        return {
            "alpha": self.alpha,
            "marked_files": self.marked_files,
            "seconds": round(self.seconds, 1),
            "workdir": str(self.workdir),
            "collections": {
                side.name: {"holds": side.holds, "audit": side.outcome.to_json()}
                for side in self.sides
            },
        }


def _png(path: Path, pixels: np.ndarray) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path, "PNG")
    return path


def _adapter(server: FaceServer, collection_id: str) -> RekognitionCollection:
    connection = RekognitionConnection(endpoint_url=server.base_url, dummy_credentials=True)
    return RekognitionCollection(collection_id, connection=connection, provider="local")


def _item(external_id: str, path: Path) -> EnrollItem:
    return EnrollItem(external_id, lambda: QueryImage(path.read_bytes(), "image/png"))


def run_face_demo(
    workdir: Path, *, config: FaceDemoConfig | None = None, log: Log | None = None
) -> FaceDemoResult:
    """Run the face demo in ``workdir`` (created; must be empty or absent)."""
    config = config or FaceDemoConfig()
    say = log or (lambda _line: None)
    started = time.perf_counter()
    work = Path(workdir)
    if work.exists() and any(work.iterdir()):
        raise ValueError(f"demo workdir {work} is not empty; pass an empty or new folder")
    work.mkdir(parents=True, exist_ok=True, mode=0o700)
    say("loading the local face engine (dlib) and serving it on 127.0.0.1")
    server = serve_in_background(work / "engine", workers=2)
    try:
        engine = server.service.engine
        faces = [face for face in lfw_faces() if len(engine.detect(face)) == 1]
        needed = config.photos + config.strangers
        if len(faces) < needed:
            raise ValueError(f"the face engine found {len(faces)} sample faces, {needed} needed")
        mine = [
            _png(work / "my-photos" / f"p{i:02d}.png", face)
            for i, face in enumerate(faces[: config.photos])
        ]
        strangers = [
            _png(work / "strangers" / f"s{i:02d}.png", face)
            for i, face in enumerate(faces[config.photos : needed])
        ]
        store = MarkStore.open(work / "store")
        mark = make_mark("my-face-mark", FACES.kind, seed=config.seed + 11)
        store.add(mark, force=True, purpose=FACES.name, default_alpha=FACES.alpha)
        marked = mark_folder(
            work / "my-photos",
            work / "posted",
            mark,
            alpha=FACES.alpha,
            fraction=config.fraction,
            seed=config.seed,
            store=store,
        )
        say(
            f"marked {marked.marked} of your {len(mine)} photos (α = {FACES.alpha}, "
            f"{FACES.kind.value} mark) and posted them with the others; the mark stays private"
        )
        posted = [work / "posted" / rel for rel in scan_images(work / "posted")[0]]
        holds = {
            "with-posted-copies": ("the copies you posted, and strangers", posted),
            "with-originals": ("your unmarked originals, and strangers", mine),
        }
        sides = []
        ledger = Ledger.in_workspace(work / "service")
        try:
            for name, (what, yours) in holds.items():
                say(f"the service builds collection {name!r}: {what}")
                adapter = _adapter(server, name)
                adapter.create()
                items = [_item(f"face-{i}", path) for i, path in enumerate([*strangers, *yours])]
                enroller = Enroller(adapter, ledger)
                enroller.run(enroller.plan(items))
        finally:
            ledger.close()
        for name, (what, _) in holds.items():
            say(f"auditing collection {name!r} through boto3 ({config.method} test)")
            request = FaceAuditRequest(
                collection=_adapter(server, name),
                verifier=build_verifier(config.method, command="faces", **config.options),
                mark=mark,
                probes=probes_from_manifest(store, mark),
                budget=Budget.unlimited(),
                store=store,
            )
            outcome = run_face_audit(
                request, workspace=work / "workspace", report_dir=work / "reports" / name
            )
            sides.append(FaceDemoSide(name, what, outcome))
    finally:
        server.stop()
    return FaceDemoResult(sides, FACES.alpha, marked.marked, time.perf_counter() - started, work)
