"""Trainer, augmentations, model file and dataset loading."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from providers.local.augment import augment, random_crop, random_flip, random_rotation
from providers.local.dataset import load_labelled_folder
from providers.local.model_file import ModelFileError, load_model
from providers.local.predictor import Predictor
from providers.local.trainer import stratified_split, train_arrays

from .conftest import COLOURS, colour_images


def test_tiny_model_learns_colours_and_round_trips(tiny_model: Path) -> None:
    _, meta = load_model(tiny_model)
    assert meta.labels == sorted(COLOURS)
    assert meta.arch == "small" and meta.input_size == 16
    assert meta.extra["val_acc"] >= 0.9
    x, y = colour_images(10, seed=5)
    probs = Predictor(tiny_model, device="cpu").predict(x)
    assert probs.shape == (30, 3)
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-5)
    # Folder labels are sorted names; colour_images uses COLOURS order.
    order = [meta.labels.index(name) for name in COLOURS]
    assert (probs.argmax(1) == np.array(order)[y]).mean() >= 0.9


def test_training_is_seeded(tmp_path: Path) -> None:
    x, y = colour_images(8, seed=1)
    a = train_arrays(x, y, list(COLOURS), tmp_path / "a.pt", epochs=1, device="cpu", seed=3)
    b = train_arrays(x, y, list(COLOURS), tmp_path / "b.pt", epochs=1, device="cpu", seed=3)
    c = train_arrays(x, y, list(COLOURS), tmp_path / "c.pt", epochs=1, device="cpu", seed=4)
    wa, wb, wc = (load_model(r.model_path)[0].state_dict() for r in (a, b, c))
    assert all(torch.equal(wa[k], wb[k]) for k in wa)
    assert not all(torch.equal(wa[k], wc[k]) for k in wa)
    assert a.n_train + a.n_val == 24 and a.n_val == 3


def test_stratified_split_holds_out_each_label() -> None:
    y = np.repeat(np.arange(4), 20)
    train, val = stratified_split(y, 0.1, seed=0)
    assert len(np.intersect1d(train, val)) == 0 and len(train) + len(val) == 80
    assert np.bincount(y[val]).tolist() == [2, 2, 2, 2]


def test_augmentations_keep_shape_and_vary() -> None:
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(64, 3, 16, 16)
    flipped = random_flip(x, gen)
    same = (flipped == x).flatten(1).all(1)
    mirrored = (flipped == x.flip(3)).flatten(1).all(1)
    assert bool((same | mirrored).all()) and 10 < int(mirrored.sum()) < 54
    cropped = random_crop(x, 2, gen)
    assert cropped.shape == x.shape
    # A crop is a shift: some rows/columns become the zero padding, the rest is x shifted.
    assert (cropped == 0).any()
    assert torch.equal(random_rotation(x, 0.0, gen), x)
    rotated = random_rotation(x, 15.0, gen)
    assert rotated.shape == x.shape and not torch.allclose(rotated, x)
    out = augment(x, gen)
    assert out.shape == x.shape and float(out.min()) >= 0 and float(out.max()) <= 1


def test_crop_is_an_exact_shift() -> None:
    gen = torch.Generator().manual_seed(1)
    x = torch.arange(2 * 3 * 8 * 8, dtype=torch.float32).view(2, 3, 8, 8) + 1
    out = random_crop(x, 2, gen)
    for i in range(2):
        nonzero = out[i, 0] != 0
        rows = nonzero.any(1).nonzero().flatten()
        cols = nonzero.any(0).nonzero().flatten()
        block = out[i, :, rows[0] : rows[-1] + 1, cols[0] : cols[-1] + 1]
        h, w = block.shape[1:]
        # The visible block equals a corner-aligned window of the source image.
        assert any(
            torch.equal(block, x[i, :, r : r + h, c : c + w])
            for r in (0, 8 - h)
            for c in (0, 8 - w)
        )


def test_model_file_refuses_garbage_and_code(tmp_path: Path) -> None:
    junk = tmp_path / "junk.pt"
    junk.write_bytes(b"not a model")
    with pytest.raises(ModelFileError, match=r"junk\.pt"):
        load_model(junk)
    with pytest.raises(ModelFileError, match="no such model file"):
        load_model(tmp_path / "missing.pt")
    # A pickle that would build an arbitrary object is refused by weights_only loading.
    evil = tmp_path / "evil.pt"
    torch.save({"format": "isotope-local-model/1", "meta": Path("/etc")}, evil)
    with pytest.raises(ModelFileError, match=r"evil\.pt"):
        load_model(evil)
    other = tmp_path / "other.pt"
    torch.save({"weights": torch.zeros(2)}, other)
    with pytest.raises(ModelFileError, match="not an isotope model file"):
        load_model(other)


def test_dataset_errors_name_the_path(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not a folder"):
        load_labelled_folder(tmp_path / "nope", 16)
    (tmp_path / "only").mkdir()
    (tmp_path / "only" / "a.png").write_bytes(b"x")
    with pytest.raises(ValueError, match="at least 2 label"):
        load_labelled_folder(tmp_path, 16)
    (tmp_path / "second").mkdir()
    (tmp_path / "second" / "b.png").write_bytes(b"x")
    with pytest.raises(ValueError, match=r"a\.png: cannot read image"):
        load_labelled_folder(tmp_path, 16)


def test_bad_training_arguments(tmp_path: Path) -> None:
    x, y = colour_images(4, seed=0)
    with pytest.raises(ValueError, match="unknown architecture"):
        train_arrays(x, y, list(COLOURS), tmp_path / "m.pt", arch="vgg", epochs=1)
    with pytest.raises(ValueError, match="epochs"):
        train_arrays(x, y, list(COLOURS), tmp_path / "m.pt", epochs=0)
    with pytest.raises(ValueError, match="unknown device"):
        train_arrays(x, y, list(COLOURS), tmp_path / "m.pt", epochs=1, device="tpu")


@pytest.mark.parametrize("arch", ["small", "resnet18"])
@pytest.mark.parametrize("side", [8, 10])
def test_the_smallest_inputs_train_and_predict(tmp_path: Path, arch: str, side: int) -> None:
    x, y = colour_images(4, seed=2, size=side)
    result = train_arrays(x, y, list(COLOURS), tmp_path / "m.pt", arch=arch, epochs=1, device="cpu")
    probs = Predictor(result.model_path, device="cpu").predict(x[:3])
    assert probs.shape == (3, 3)
    np.testing.assert_allclose(probs.sum(1), 1.0, atol=1e-5)
