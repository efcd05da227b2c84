"""Sample faces for the face demo: scikit-image's LFW subset, offline.

``skimage.data.lfw_subset()`` ships inside the scikit-image wheel: 100 grey 25×25 face
crops from Labeled Faces in the Wild (then 100 non-faces), without identities. They
are upscaled (bicubic) to RGB squares large enough for a face service (≥ 40 px; the
local engine finds about 9 in 10 of them at 100 px).
"""

from __future__ import annotations

import numpy as np
from PIL import Image

from providers.errors import MissingExtraError

FACES_IN_SUBSET = 100


def lfw_faces(side: int = 100) -> list[np.ndarray]:
    """The 100 LFW subset faces as RGB uint8 (side, side, 3) arrays."""
    try:
        from skimage.data import lfw_subset
    except ImportError as exc:
        raise MissingExtraError("faces demo", "faces") from exc
    crops = lfw_subset()[:FACES_IN_SUBSET]
    faces = []
    for crop in crops:
        grey = Image.fromarray(np.rint(np.asarray(crop) * 255).astype(np.uint8))
        faces.append(np.asarray(grey.resize((side, side), Image.Resampling.BICUBIC).convert("RGB")))
    return faces
