"""Fixtures for the local provider: a tiny generated image set, a model, a live server."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from providers.local.server import serve_in_background
from providers.local.trainer import train

COLOURS = {"red": (220, 30, 30), "green": (30, 200, 40), "blue": (30, 40, 220)}


def colour_images(n: int, seed: int, size: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """``n`` noisy images per colour class: uint8 (3n, size, size, 3) and labels (3n,)."""
    rng = np.random.default_rng(seed)
    xs, ys = [], []
    for index, rgb in enumerate(COLOURS.values()):
        base = np.array(rgb, np.float32)
        noise = rng.normal(0, 30, (n, size, size, 3))
        xs.append(np.clip(base + noise, 0, 255).astype(np.uint8))
        ys.append(np.full(n, index))
    return np.concatenate(xs), np.concatenate(ys)


def write_colour_folder(root: Path, n: int = 30, seed: int = 0) -> Path:
    """``root/<colour>/<i>.png``, ``n`` images per colour."""
    x, y = colour_images(n, seed)
    names = list(COLOURS)
    for i, (pixels, label) in enumerate(zip(x, y, strict=True)):
        folder = root / names[label]
        folder.mkdir(parents=True, exist_ok=True)
        Image.fromarray(pixels, "RGB").save(folder / f"{i:03d}.png")
    return root


@pytest.fixture(scope="session")
def colour_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A labelled folder of 3 colour classes × 30 images (16×16)."""
    return write_colour_folder(tmp_path_factory.mktemp("colours") / "data")


@pytest.fixture(scope="session")
def tiny_model(colour_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small CNN trained for 3 epochs on the colour set (a few seconds on CPU)."""
    out = tmp_path_factory.mktemp("model") / "tiny.pt"
    train(colour_dir, out, epochs=3, device="cpu", seed=0)
    return out


@pytest.fixture(scope="session")
def server(tiny_model: Path):
    """The tiny model served on a free loopback port for the whole session."""
    running = serve_in_background(tiny_model, device="cpu")
    yield running
    running.stop()
