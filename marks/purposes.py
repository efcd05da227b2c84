"""What a mark is for, and the mark kind and blend strength α each purpose starts from.

``isotope marks new NAME --for faces`` records the purpose and its α in the mark's
record; ``isotope mark`` then blends with that α unless ``--alpha`` is given. The faces
values were chosen by measurement (``FACES``).
"""

from __future__ import annotations

from dataclasses import dataclass

from marks.mark import MarkKind

DEFAULT_ALPHA = 0.4
"""The paper's blend strength: detectable at α ≥ 0.4 on CIFAR100, PubFig and FaceScrub."""


@dataclass(frozen=True)
class Purpose:
    """A use of marks: its name, the kind made when none is asked for, and its α."""

    name: str
    kind: MarkKind
    alpha: float


GENERAL = Purpose("general", MarkKind.DEAD_LEAVES, DEFAULT_ALPHA)
"""Classifier audits: dead-leaves marks, chosen by measurement.

On small CNNs trained by the project's trainer on a CIFAR-10 subset (α 0.4, p 0.1 of
one label, 500 queries: n 5, K 99; ``benchmarks/mark_family_experiments.py``), dead
leaves detected 0.98 of audits against 0.88 for ``procedural`` and 0.38 for photos,
with FPR 0.009 on clean models. ``procedural`` stays available (``--kind``) and keeps
its generator, so existing marks keep their externals.
"""
FACES = Purpose("faces", MarkKind.PROCEDURAL, 0.1)
"""Face-safe: the gentlest setting that keeps faces findable and the posted copy unique.

Measured with ``OMP_NUM_THREADS=1 python benchmarks/faces_audit.py --sections marks``
(ORL faces upsampled ×2, dlib HOG): procedural marks at α 0.1 leave 100% of faces
detected and recognised (at 0.2: 97.5%, at 0.3: 67.5%), and the exact rebuild of the
posted copy stays closer to the copy a service enrolled than the same photo with any
of 5 external marks in 100% of pairs even after the service halved and re-encoded it
(JPEG 75; at α 0.05: 90.5%). On scikit-image's tiny LFW crops (25 px upscaled) 86 of
91 faces stay detectable at 0.1, 81 at 0.15, 62 at 0.2. Face audits test membership
of the posted copy, which any mark that changes the face's pixels makes unique, so a
faint mark suffices; a mask sparing the face keeps detection at higher α but moves
the face descriptor less at equal detection (measured margins 0.07–0.11 vs 0.08–0.13).
"""
PURPOSES = {purpose.name: purpose for purpose in (GENERAL, FACES)}
