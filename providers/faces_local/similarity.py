"""Similarity 0–100 from the Euclidean distance of two 128-d dlib face descriptors.

    similarity(d) = 100 / (1 + exp((d − 0.55) / 0.08))

A logistic curve: 50 at d = 0.55, above 99 for near-identical images (d ≤ 0.18), and
close to 0 for strangers. Calibration, measured with ``OMP_NUM_THREADS=1 python
benchmarks/faces_calibration.py`` on the ORL faces (40 people × 10 grey 92×112 images,
HOG detector upsampled ×4; 394 of 400 faces found; nearest-neighbour identification
100%):

- same person (1,750 pairs): distance mean 0.310, median 0.303, 95th percentile 0.460,
  99th 0.511; similarity median 95.6, mean 92.4; 91% of pairs ≥ 80, 75% ≥ 90;
- different people (75,671 pairs): distance mean 0.760, 1st percentile 0.576, 5th
  0.632; similarity median 7.0, 99th percentile 41.9; no pair ≥ 80.

The centre 0.55 sits between the same-person 99th and the different-people 1st
percentile; the scale 0.08 puts the typical same-person pair at ≈ 95
(0.24 / ln 19 ≈ 0.08).

Like Rekognition's, this similarity ranks candidates and sets a threshold; it is not a
probability. Change either constant and the face model version changes with it
(``FACE_MODEL_SUFFIX``), so no ledger mixes replies of two mappings.
"""

from __future__ import annotations

import numpy as np

CENTRE = 0.55
SCALE = 0.08
FACE_MODEL_SUFFIX = f"sim-{CENTRE}-{SCALE}"
"""Names the mapping inside the engine's face model version."""


def similarity(distance: np.ndarray) -> np.ndarray:
    """Similarities (0–100, float64) for an array of descriptor distances."""
    z = (np.asarray(distance, dtype=np.float64) - CENTRE) / SCALE
    return 100.0 / (1.0 + np.exp(np.clip(z, -60.0, 60.0)))
