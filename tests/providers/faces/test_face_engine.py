"""The local face engine's model: detection with upsampling, descriptors, similarity."""

from __future__ import annotations

import io
import sys

import numpy as np
import pytest
from PIL import Image

from providers.errors import MissingExtraError
from providers.faces_local.engine import CHIP_SIZE, FaceEngine, detection_confidence
from providers.faces_local.similarity import CENTRE, similarity

from .conftest import blank, face_pixels


def _distances(engine: FaceEngine, probe: np.ndarray, others: list[np.ndarray]) -> np.ndarray:
    chips = [engine.detect(pixels)[0].chip for pixels in [probe, *others]]
    vectors = engine.describe(chips)
    return np.linalg.norm(vectors[1:] - vectors[0], axis=1)


def test_upsampling_reaches_the_detector_window(engine: FaceEngine) -> None:
    assert engine.upsampling(25, 25) == 2  # capped at max_upsample
    assert engine.upsampling(92, 112) == 2  # ORL: 92 → 368
    assert engine.upsampling(100, 100) == 1
    assert engine.upsampling(480, 640) == 0


def test_small_faces_are_found_only_with_upsampling(
    engine: FaceEngine, face_ids: list[int]
) -> None:
    # A 50 px face is under the HOG window (80 px): found after doubling, not before.
    flat = FaceEngine(workers=1, max_upsample=0)
    small = [face_pixels(i, side=50) for i in face_ids[:6]]
    assert sum(bool(engine.detect(p)) for p in small) >= 5
    assert sum(bool(flat.detect(p)) for p in small) == 0


def test_detection_gives_box_confidence_and_chip(engine: FaceEngine, face_ids: list[int]) -> None:
    (face,) = engine.detect(face_pixels(face_ids[0]))
    assert 0 <= face.left < face.right <= 110 and 0 <= face.top < face.bottom <= 110
    assert face.width >= 40 and face.margin >= 0.0
    assert 85.0 < face.confidence <= 100.0
    assert face.chip.shape == (CHIP_SIZE, CHIP_SIZE, 3) and face.chip.dtype == np.uint8
    assert engine.detect(blank()) == []


def test_detect_refuses_non_rgb_arrays(engine: FaceEngine) -> None:
    with pytest.raises(ValueError, match="RGB uint8"):
        engine.detect(np.zeros((50, 50), np.uint8))


def test_same_face_matches_and_strangers_do_not(engine: FaceEngine, face_ids: list[int]) -> None:
    original = face_pixels(face_ids[0])
    jpeg = io.BytesIO()
    Image.fromarray(original).save(jpeg, "JPEG", quality=70)
    recompressed = np.asarray(Image.open(jpeg).convert("RGB"))
    brighter = np.clip(original.astype(np.int16) + 25, 0, 255).astype(np.uint8)
    assert np.all(similarity(_distances(engine, original, [recompressed, brighter])) >= 95)
    strangers = _distances(engine, original, [face_pixels(i) for i in face_ids[1:7]])
    scores = similarity(strangers)
    assert np.median(scores) < 80, scores


def test_batched_descriptors_equal_single_ones(engine: FaceEngine, face_ids: list[int]) -> None:
    chips = [engine.detect(face_pixels(i))[0].chip for i in face_ids[:4]]
    batched = engine.describe(chips)
    single = np.concatenate([engine.describe([chip]) for chip in chips])
    assert batched.shape == (4, 128) and batched.dtype == np.float32
    np.testing.assert_allclose(batched, single, atol=1e-6)
    assert engine.describe([]).shape == (0, 128)


def test_similarity_mapping_is_calibrated_and_monotone() -> None:
    distances = np.linspace(0.0, 1.5, 301)
    scores = similarity(distances)
    assert np.all(np.diff(scores) < 0)
    assert scores[0] > 99.8 and scores[-1] < 0.01
    assert similarity(np.array(0.18)) > 99.0
    assert similarity(np.array(CENTRE)) == pytest.approx(50.0)
    # ORL: same person ≈ 0.31 apart → about 95; different people ≈ 0.76 → under 10.
    assert similarity(np.array(0.31)) > 94
    assert similarity(np.array(0.76)) < 10


def test_detection_confidence_is_a_percentage() -> None:
    assert detection_confidence(0.0) == pytest.approx(88.08, abs=0.01)
    assert detection_confidence(-50.0) >= 0.0 and detection_confidence(50.0) <= 100.0


def test_engine_without_dlib_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "dlib", None)
    with pytest.raises(MissingExtraError, match=r"isotope-audit\[faces\]"):
        FaceEngine()
