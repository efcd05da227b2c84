"""``prepare rekognition``: an enrollment plan for the feature-match test (paper A.3).

For each identity (a folder of that person's face photos), in a seeded order:

- set1: 5 images carrying the same mark ``t`` (enrolled);
- set2: 5 images each carrying a different mark ``t'₁..t'₅`` (enrolled);
- set3: further images carrying ``t`` (probes: never enrolled).

Enrolled images go to ``OUT/enroll/IDENTITY/ID.jpg`` and are listed in
``OUT/enroll.json`` with their ExternalImageId; probes go to ``OUT/probe/IDENTITY/``
and ``OUT/probe.json``. ExternalImageIds are ``IDENTITY_<random hex>``: valid for
Rekognition (``[a-zA-Z0-9_.\\-:]+``, at most 255) and saying nothing about which set or
mark an image belongs to; that mapping is kept only in the store's manifest. Images
are JPEG (quality 95) within Rekognition's 5 MB, downscaled if needed; images smaller
than 40×40 px cannot hold an indexable face and are refused.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from marks.atomic import write_atomic
from marks.blend import blend, check_alpha
from marks.errors import ImageError, MarkingError
from marks.folder_scan import check_out_dir, require_dir, scan_images
from marks.imageio import read_image
from marks.manifest import manifest_header
from marks.mark import Mark
from marks.marking import FileFailure
from marks.seed import check_seed
from marks.store import MarkStore
from marks.upload_files import PrepareResult, Progress, encode_within

SET_SIZE = 5
MAX_IMAGE_BYTES = 5 * 1024 * 1024
MIN_SIDE = 40
MAX_ID_LENGTH = 255
_EXTERNAL_ID = re.compile(r"[a-zA-Z0-9_.\-:]+")
_IDENTITY = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,99}")


def check_external_id(value: str) -> str:
    """Return ``value`` if Rekognition accepts it as an ExternalImageId (botocore won't check)."""
    if not _EXTERNAL_ID.fullmatch(value) or len(value) > MAX_ID_LENGTH:
        raise MarkingError(f"ExternalImageId {value!r} is invalid: use 1-255 of [a-zA-Z0-9_.-:]")
    return value


def check_identity(name: str) -> str:
    """Return ``name`` if it can name an identity (folder and ExternalImageId prefix)."""
    if not _IDENTITY.fullmatch(name or ""):
        raise MarkingError(
            f"identity {name!r} is invalid: use 1-100 letters, digits, '_', '.', '-'"
        )
    return name


def _check_marks(mark: Mark, set2_marks: Sequence[Mark]) -> None:
    if len(set2_marks) != SET_SIZE:
        raise MarkingError(f"set2 needs exactly {SET_SIZE} other marks, got {len(set2_marks)}")
    prints = [m.fingerprint for m in (mark, *set2_marks)]
    if len(set(prints)) != len(prints):
        raise MarkingError("the set1 mark and the 5 set2 marks must all be different marks")


def prepare_rekognition(
    identities: dict[str, Path],
    out: Path,
    *,
    mark: Mark,
    set2_marks: Sequence[Mark],
    store: MarkStore,
    alpha: float = 0.4,
    probes: int | None = None,
    seed: int = 0,
    progress: Progress | None = None,
) -> PrepareResult:
    """Build the enrollment plan (see module docstring) for each ``identity -> folder``.

    ``probes`` caps set3 per identity (default: every remaining image). An identity
    with fewer than 11 usable images is listed as a failure and left out. Raises
    ``MarkingError`` for bad arguments or folders.
    """
    try:
        alpha = check_alpha(alpha)
    except ValueError as exc:
        raise MarkingError(str(exc)) from None
    if probes is not None and probes < 1:
        raise MarkingError(f"--probes must be at least 1, got {probes}")
    seed = check_seed(seed)
    _check_marks(mark, set2_marks)
    if not identities:
        raise MarkingError("give at least one identity and its folder (NAME=DIR)")
    roots = {
        check_identity(name): require_dir(path, f"folder for identity {name!r}")
        for name, path in identities.items()
    }
    out = check_out_dir(out, list(roots.values()), store.root)
    result = PrepareResult(out=out)
    enroll: list[dict] = []
    probe: list[dict] = []
    plan: dict[str, dict] = {}
    too_few: list[str] = []
    for index, (identity, root) in enumerate(roots.items()):
        rng = np.random.default_rng([seed, index])
        rels = scan_images(root)[0]
        order = [rels[i] for i in rng.permutation(len(rels))]
        wanted = 2 * SET_SIZE + (probes if probes is not None else len(order))
        usable: list[tuple[Path, np.ndarray]] = []
        for rel in order:
            if len(usable) >= wanted:
                break
            try:
                rgb = read_image(root / rel).rgb
            except ImageError as exc:
                result.failed.append(FileFailure(str(root / rel), exc.problem))
                continue
            if min(rgb.shape[:2]) < MIN_SIDE:
                result.failed.append(
                    FileFailure(str(root / rel), f"smaller than {MIN_SIDE}x{MIN_SIDE} px")
                )
                continue
            usable.append((rel, rgb))
        if len(usable) < 2 * SET_SIZE + 1:
            short = FileFailure(
                str(root),
                f"identity {identity!r} needs at least {2 * SET_SIZE + 1} usable images, "
                f"found {len(usable)}",
            )
            result.failed.append(short)
            too_few.append(short.error)
            continue
        roles = (
            [("set1", mark)] * SET_SIZE
            + [("set2", m) for m in set2_marks]
            + [("set3", mark)] * (len(usable) - 2 * SET_SIZE)
        )
        plan[identity] = {"set1": [], "set2": [], "set3": []}
        for (rel, rgb), (role, used_mark) in zip(usable, roles, strict=True):
            image_id = check_external_id(f"{identity}_{rng.bytes(6).hex()}")
            folder = "probe" if role == "set3" else "enroll"
            target = Path(folder) / identity / f"{image_id}.jpg"
            data, _ = encode_within(blend(rgb, used_mark, alpha), None, "JPEG", MAX_IMAGE_BYTES)
            (out / target).parent.mkdir(parents=True, exist_ok=True)
            write_atomic(out / target, data)
            entry = {"file": str(target), "identity": identity}
            if role == "set3":
                probe.append(entry)
            else:
                enroll.append({**entry, "external_image_id": image_id})
            plan[identity][role].append(
                {
                    **entry,
                    "external_image_id": None if role == "set3" else image_id,
                    "source": str(root / rel),
                    "mark": used_mark.name,
                    "mark_fingerprint": used_mark.fingerprint,
                    "sha256": hashlib.sha256(data).hexdigest(),
                }
            )
            result.written += 1
        if progress:
            progress(index + 1, len(roots))
    if not plan:
        raise MarkingError("nothing to enroll: " + "; ".join(too_few))
    write_atomic(out / "enroll.json", json.dumps({"images": enroll}, indent=2).encode())
    write_atomic(out / "probe.json", json.dumps({"images": probe}, indent=2).encode())
    result.files = enroll + probe
    result.outputs = {"enroll": str(out / "enroll.json"), "probe": str(out / "probe.json")}
    manifest = manifest_header("rekognition-plan", mark, None)
    manifest.update(
        {
            "out_dir": str(out),
            "alpha": alpha,
            "seed": seed,
            "set2_marks": [{"name": m.name, "fingerprint": m.fingerprint} for m in set2_marks],
            "identities": plan,
            "failed": [{"path": f.path, "error": f.error} for f in result.failed],
        }
    )
    result.manifest = store.save_manifest(manifest, label="prepare-rekognition")
    return result
