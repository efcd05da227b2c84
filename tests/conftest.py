"""Fixtures shared across the suite: private stores, generated images, small simulated models."""

from __future__ import annotations

import io
import random
from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from typer.testing import CliRunner

from audit.verifiers.simulated_oracle import SimulatedOracle
from marks import external_seeds
from marks.kinds import make_mark
from marks.store import MarkStore


def photo(height: int = 48, width: int = 64, seed: int = 0) -> np.ndarray:
    """A smooth random RGB picture (JPEG-friendly, unlike white noise)."""
    rng = np.random.default_rng(seed)
    small = rng.integers(0, 256, (max(2, height // 8), max(2, width // 8), 3), dtype=np.uint8)
    return np.asarray(Image.fromarray(small).resize((width, height), Image.Resampling.BILINEAR))


def save(path: Path, pixels: np.ndarray, fmt: str | None = None, **options) -> Path:
    """Write ``pixels`` as an image file (parents created)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    mode = {2: "L", 3: "RGB"}[pixels.ndim] if pixels.shape[-1] != 4 else "RGBA"
    Image.fromarray(pixels, mode).save(path, fmt, **options)
    return path


def jpeg_bytes(pixels: np.ndarray, **options) -> bytes:
    """Encode ``pixels`` as JPEG bytes."""
    buf = io.BytesIO()
    Image.fromarray(pixels).save(buf, "JPEG", **options)
    return buf.getvalue()


@pytest.fixture(autouse=True)
def reproducible_external_keys(monkeypatch: pytest.MonkeyPatch) -> None:
    """External-mark keys from a seeded sequence instead of ``secrets``.

    Verdicts then repeat from run to run, and each new key still differs from the one
    before (two stores still get different externals). Subprocesses are not affected.
    """
    rng = random.Random(20240601)
    monkeypatch.setattr(external_seeds, "new_key", lambda: rng.randbytes(external_seeds.KEY_BYTES))


@pytest.fixture
def store(tmp_path: Path) -> MarkStore:
    """A fresh private store holding one procedural mark named ``t``."""
    opened = MarkStore.open(tmp_path / "store")
    opened.add(make_mark("t", "procedural", seed=7))
    return opened


@pytest.fixture
def photos(tmp_path: Path) -> Path:
    """A folder of 20 distinct 48x64 JPEGs plus one PNG in a subfolder."""
    src = tmp_path / "photos"
    for i in range(20):
        save(src / f"p{i:02d}.jpg", photo(seed=i), quality=90)
    save(src / "sub" / "q.png", photo(seed=99))
    return src


@pytest.fixture
def runner() -> CliRunner:
    """A CLI runner with stdout and stderr kept apart."""
    return CliRunner()


class ImageKit:
    """The image helpers above, handed to tests as a fixture (conftest is not importable)."""

    photo = staticmethod(photo)
    save = staticmethod(save)
    jpeg_bytes = staticmethod(jpeg_bytes)


@pytest.fixture
def kit() -> type[ImageKit]:
    """Image generation helpers."""
    return ImageKit


@pytest.fixture
def make_oracle():
    """Factory for small simulated models (fast: 40 images, 50 external marks)."""

    def make(**options: object) -> SimulatedOracle:
        defaults: dict = {"n_images": 40, "n_external": 50, "seed": 1}
        defaults.update(options)
        return SimulatedOracle(**defaults)

    return make
