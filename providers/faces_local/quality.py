"""Rekognition's QualityFilter for the local engine: which detected faces are good enough.

``NONE`` keeps every detected face. The other levels refuse faces smaller than 40 px
(``SMALL_BOUNDING_BOX``, Rekognition's own minimum) and faces whose HOG detector margin
is under the level's floor (``LOW_CONFIDENCE``). The floors were set on real faces: on
100 LFW crops (scikit-image's ``lfw_subset``, at 100 px) the detector's margins have
5th/10th/25th percentiles 0.22/0.39/0.64, on the ORL faces 0.39/0.68/1.03; so AUTO
(0.1) drops under 5% of either set's faces, HIGH (0.5) about 7% of ORL's and 15% of
LFW's.
"""

from __future__ import annotations

from providers.faces_local.engine import DetectedFace

MIN_FACE_PX = 40
MARGIN_FLOORS = {"LOW": 0.0, "AUTO": 0.1, "MEDIUM": 0.25, "HIGH": 0.5}


def quality_reasons(face: DetectedFace, level: str) -> list[str]:
    """Why ``face`` fails QualityFilter ``level`` (empty when it passes)."""
    if level == "NONE":
        return []
    reasons = []
    if min(face.width, face.height) < MIN_FACE_PX:
        reasons.append("SMALL_BOUNDING_BOX")
    if face.margin < MARGIN_FLOORS[level]:
        reasons.append("LOW_CONFIDENCE")
    return reasons
