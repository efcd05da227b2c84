"""``FaceEngine``: find faces, align them, describe them as 128-d vectors (dlib).

- Detection: dlib's HOG frontal face detector. Its window is 80×80 px, so small images
  are upsampled (dlib's image pyramid, up to ``max_upsample`` doublings) until their
  short side reaches ``min_detect_side`` (200 px): a 92×112 ORL face is doubled twice,
  a 100×100 crop once, and faces down to about 40 px are found in small images. In
  large images faces under about 80 px are not found (upsampling them would cost 4× per
  doubling).
- Alignment: the 5-point shape predictor, then a 150×150 face chip (padding 0.25),
  the input dlib's descriptor network was trained on.
- Description: the ResNet face descriptor network (128-d; same person < 0.6 apart).
  ``describe`` takes many chips in one call.

dlib's network keeps per-call state, so each worker thread gets its own set of models
(``workers``); calls beyond that wait for a free set.
"""

from __future__ import annotations

import math
import queue
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import numpy as np

from providers.faces_local.model_files import ModelFiles, import_dlib
from providers.faces_local.similarity import FACE_MODEL_SUFFIX

CHIP_SIZE = 150
CHIP_PADDING = 0.25
DESCRIPTOR_SIZE = 128


def detection_confidence(margin: float) -> float:
    """Confidence 0–100 from the HOG detector's SVM margin (≥ 0 for a detection).

    ``100 / (1 + exp(-4 (margin + 0.5)))``: 88 at the detector's own threshold, 98 at
    margin 0.5, above 99.7 from margin 1 (clear frontal faces score 0.6–2.5).
    """
    return 100.0 / (1.0 + math.exp(-4.0 * (margin + 0.5)))


@dataclass(frozen=True)
class DetectedFace:
    """A face found in an image: its box in pixels, the detector margin, its aligned chip."""

    left: float
    top: float
    right: float
    bottom: float
    margin: float
    chip: np.ndarray  # uint8 (150, 150, 3)

    @property
    def width(self) -> float:
        """Box width in pixels."""
        return self.right - self.left

    @property
    def height(self) -> float:
        """Box height in pixels."""
        return self.bottom - self.top

    @property
    def confidence(self) -> float:
        """Detection confidence 0–100."""
        return detection_confidence(self.margin)


@dataclass
class _Models:
    detector: Any
    predictor: Any
    network: Any


class FaceEngine:
    """dlib's face detector, aligner and descriptor, ``workers`` sets of them.

    Raises ``MissingExtraError`` without the ``faces`` extra. ``version`` names the
    face model (dlib version, descriptor network, similarity mapping).
    """

    def __init__(
        self,
        *,
        workers: int = 1,
        min_detect_side: int = 200,
        max_upsample: int = 2,
        files: ModelFiles | None = None,
    ) -> None:
        if workers < 1:
            raise ValueError(f"workers must be at least 1, got {workers}")
        if min_detect_side < 1 or not 0 <= max_upsample <= 4:
            raise ValueError("min_detect_side must be >= 1 and max_upsample 0..4")
        self._dlib = import_dlib()
        self._files = files or ModelFiles.from_package()
        self.min_detect_side = min_detect_side
        self.max_upsample = max_upsample
        self.workers = workers
        self.version = f"dlib-{self._dlib.__version__}-resnet-v1-{FACE_MODEL_SUFFIX}"
        self._free: queue.Queue[_Models] = queue.Queue()
        for _ in range(workers):
            self._free.put(self._load())

    def _load(self) -> _Models:
        dlib = self._dlib
        return _Models(
            detector=dlib.get_frontal_face_detector(),
            predictor=dlib.shape_predictor(str(self._files.shape_predictor)),
            network=dlib.face_recognition_model_v1(str(self._files.descriptor_model)),
        )

    @contextmanager
    def _models(self) -> Iterator[_Models]:
        models = self._free.get()
        try:
            yield models
        finally:
            self._free.put(models)

    def upsampling(self, height: int, width: int) -> int:
        """How many times an image of this size is doubled before detection."""
        times = 0
        short = min(height, width)
        while times < self.max_upsample and short * 2**times < self.min_detect_side:
            times += 1
        return times

    def detect(self, rgb: np.ndarray) -> list[DetectedFace]:
        """Every face in an RGB uint8 (H, W, 3) image, largest box first, with its chip."""
        if rgb.dtype != np.uint8 or rgb.ndim != 3 or rgb.shape[2] != 3:
            raise ValueError(f"expected an RGB uint8 (H, W, 3) array, got {rgb.dtype} {rgb.shape}")
        image = np.ascontiguousarray(rgb)
        times = self.upsampling(image.shape[0], image.shape[1])
        with self._models() as models:
            rects, margins, _ = models.detector.run(image, times, 0.0)
            faces = []
            for rect, margin in zip(rects, margins, strict=True):
                shape = models.predictor(image, rect)
                chip = self._dlib.get_face_chip(image, shape, size=CHIP_SIZE, padding=CHIP_PADDING)
                faces.append(
                    DetectedFace(
                        left=float(rect.left()),
                        top=float(rect.top()),
                        right=float(rect.right() + 1),
                        bottom=float(rect.bottom() + 1),
                        margin=float(margin),
                        chip=np.asarray(chip, dtype=np.uint8),
                    )
                )
        faces.sort(key=lambda face: -(face.width * face.height))
        return faces

    def describe(self, chips: Sequence[np.ndarray]) -> np.ndarray:
        """128-d descriptors (float32 (N, 128)) of aligned face chips, in one network call."""
        if not chips:
            return np.zeros((0, DESCRIPTOR_SIZE), np.float32)
        batch = [np.ascontiguousarray(chip, dtype=np.uint8) for chip in chips]
        with self._models() as models:
            vectors = models.network.compute_face_descriptor(batch)
        return np.asarray([np.asarray(vector) for vector in vectors], dtype=np.float32)
