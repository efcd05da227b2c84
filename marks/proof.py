"""Proving a published commitment: reveal a mark, and check a revealed mark.

A proof folder holds ``mark.png`` (the mark's quantized RGB pixels with its mask as the
alpha channel: exactly the bytes its fingerprint hashes) and ``proof.json`` (the
commitment value, its salt and scheme). Anyone can recompute the fingerprint from the
PNG and the commitment from the salt and fingerprint, and compare it with the value
published earlier. Revealing gives the mark away: a model trainer who has it can
filter it out of future training sets, so reveal only when the proof is needed.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from marks.atomic import write_atomic
from marks.commitment import SCHEME, commitment_value
from marks.errors import MarkingError
from marks.mark import Mark

MARK_PNG = "mark.png"
PROOF_JSON = "proof.json"
MAX_PROOF_BYTES = 64 * 2**20  # a mark PNG is at most a few MB


@dataclass(frozen=True)
class ProofCheck:
    """What checking a proof folder found."""

    fingerprint: str
    commitment: str  # recomputed from the salt and the revealed mark
    matches_recorded: bool  # equals the value in proof.json
    matches_published: bool | None  # equals the value given to check against, if any


def _fingerprint_of(rgba: np.ndarray) -> str:
    # The same bytes as ``Mark.fingerprint``: shape, quantized pixels, quantized mask.
    h = hashlib.sha256()
    h.update(f"{(*rgba.shape[:2], 3)}".encode())
    h.update(np.ascontiguousarray(rgba[:, :, :3]).tobytes())
    h.update(np.ascontiguousarray(rgba[:, :, 3]).tobytes())
    return h.hexdigest()


def write_proof(mark: Mark, commitment: dict, folder: Path) -> Path:
    """Write ``mark.png`` and ``proof.json`` for ``mark`` into a new or empty ``folder``."""
    folder = Path(folder)
    if folder.exists() and (not folder.is_dir() or any(folder.iterdir())):
        raise MarkingError(f"{folder}: give a new or empty folder for the proof")
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    rgb = np.round(mark.pixels * 255).astype(np.uint8)
    alpha = np.round(mark.mask * 255).astype(np.uint8)
    buf = io.BytesIO()
    Image.fromarray(np.dstack([rgb, alpha]), "RGBA").save(buf, "PNG")
    write_atomic(folder / MARK_PNG, buf.getvalue())
    proof = {
        "scheme": commitment.get("scheme", SCHEME),
        **{key: commitment[key] for key in ("value", "salt")},
    }
    write_atomic(folder / PROOF_JSON, (json.dumps(proof, indent=2) + "\n").encode())
    return folder


def check_proof(folder: Path, published: str | None = None) -> ProofCheck:
    """Recompute the commitment from a proof folder; compare it with ``published``."""
    folder = Path(folder)
    try:
        proof = json.loads((folder / PROOF_JSON).read_text(encoding="utf-8"))
        salt, recorded = str(proof["salt"]), str(proof["value"])
        if proof.get("scheme", SCHEME) != SCHEME:
            raise MarkingError(f"{folder / PROOF_JSON}: unknown scheme {proof['scheme']!r}")
        png = folder / MARK_PNG
        if not png.is_file() or png.stat().st_size > MAX_PROOF_BYTES:
            raise MarkingError(f"{png}: missing, not a regular file, or too large")
        with Image.open(png) as image:
            if image.format != "PNG" or image.mode != "RGBA":
                raise MarkingError(f"{png}: not the RGBA PNG a proof holds")
            rgba = np.asarray(image)
        fingerprint = _fingerprint_of(rgba)
        value = commitment_value(salt, fingerprint)
    except MarkingError:
        raise
    except (OSError, KeyError, TypeError, ValueError, json.JSONDecodeError) as exc:
        raise MarkingError(f"{folder}: not a readable proof folder ({exc})") from None
    return ProofCheck(
        fingerprint=fingerprint,
        commitment=value,
        matches_recorded=value == recorded,
        matches_published=None if published is None else value == published.strip().lower(),
    )
