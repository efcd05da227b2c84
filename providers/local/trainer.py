"""Train an image classifier the way the paper's model trainers do.

Random flips, padded crops and small rotations; colour normalization; cross-entropy
with label smoothing; SGD with a one-cycle schedule. On CUDA with mixed precision
when present, otherwise on CPU. Seeded: the same data, seed and device give the same
model. A stratified held-out split reports accuracy at the end.

Bounds, checked before any image is loaded: the input side is 8 to
``MAX_INPUT_SIZE`` pixels, and the images held in memory (N × side² × 3 bytes) at most
``MAX_DATASET_BYTES``; ``--out`` must be a file path whose folder can be written.
"""

from __future__ import annotations

import math
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from providers.errors import ProviderOptionError
from providers.local.arch import ARCHS, build_model
from providers.local.augment import augment
from providers.local.dataset import guess_input_size, list_labelled_files, load_labelled_folder
from providers.local.device import resolve_device
from providers.local.model_file import ModelMeta, save_model

MIN_INPUT_SIZE = 8
MAX_INPUT_SIZE = 1024  # ImageNet-scale models use 224-512; beyond that a CPU run never ends
MAX_DATASET_BYTES = 4 * 2**30  # the uint8 images are held in memory (twice while moved)


def check_input_size(size: int) -> int:
    """Return ``size`` if it is a usable input side, else raise ``ProviderOptionError``."""
    if isinstance(size, bool) or not isinstance(size, int):
        raise ProviderOptionError(f"--input-size must be a whole number, got {size!r}")
    if size < MIN_INPUT_SIZE:
        raise ProviderOptionError(f"--input-size {size} is under the minimum of {MIN_INPUT_SIZE}")
    if size > MAX_INPUT_SIZE:
        raise ProviderOptionError(
            f"--input-size {size} is over the limit of {MAX_INPUT_SIZE} pixels per side"
        )
    return size


def check_dataset_memory(n_images: int, size: int) -> None:
    """Refuse a dataset whose images at ``size`` would not fit ``MAX_DATASET_BYTES``."""
    needed = n_images * size * size * 3
    if needed > MAX_DATASET_BYTES:
        raise ProviderOptionError(
            f"{n_images} images at {size}x{size} take {needed / 1e6:.1f} MB in memory, over "
            f"the trainer's {MAX_DATASET_BYTES / 1e6:.1f} MB; use a smaller --input-size "
            "or fewer images"
        )


def check_model_out(out: Path) -> Path:
    """Return ``out`` if a model file can be written there, else ``ProviderOptionError``.

    Checked before training, so a bad ``--out`` costs nothing.
    """
    out = Path(out)
    if out.is_dir():
        raise ProviderOptionError(
            f"--out {out} is a folder; give a file path, e.g. {out / 'model.pt'}"
        )
    folder = out.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent  # the nearest existing ancestor: missing ones are created
    if not folder.is_dir():
        raise ProviderOptionError(f"--out {out}: {folder} is not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise ProviderOptionError(f"--out {out}: cannot write in {folder}")
    return out


@dataclass(frozen=True)
class EpochStats:
    """Progress after one epoch (``val_acc`` is None without a held-out split)."""

    epoch: int
    epochs: int
    loss: float
    train_acc: float
    val_acc: float | None
    seconds: float


@dataclass(frozen=True)
class TrainResult:
    """What training produced and how well the model does on held-out images."""

    model_path: Path
    arch: str
    labels: list[str]
    input_size: int
    epochs: int
    device: str
    n_train: int
    n_val: int
    train_acc: float
    val_acc: float | None
    seconds: float

    def to_json(self) -> dict:
        """A JSON-serialisable dict."""
        return {**self.__dict__, "model_path": str(self.model_path)}


def stratified_split(
    y: np.ndarray, val_fraction: float, seed: int
) -> tuple[np.ndarray, np.ndarray]:
    """Train and held-out indices with ``val_fraction`` of every label held out."""
    rng = np.random.default_rng(seed)
    train, val = [], []
    for label in np.unique(y):
        idx = rng.permutation(np.flatnonzero(y == label))
        n_val = round(val_fraction * len(idx)) if len(idx) > 1 else 0
        val.append(idx[:n_val])
        train.append(idx[n_val:])
    return np.sort(np.concatenate(train)), np.sort(np.concatenate(val))


def _to_float(x_uint8: torch.Tensor) -> torch.Tensor:
    return x_uint8.permute(0, 3, 1, 2).float().div_(255.0)


@torch.no_grad()
def evaluate(model: torch.nn.Module, x: torch.Tensor, y: torch.Tensor, batch: int = 512) -> float:
    """Top-1 accuracy of ``model`` on uint8 images ``x`` (N, H, W, 3)."""
    model.eval()
    correct = 0
    for start in range(0, len(x), batch):
        logits = model(_to_float(x[start : start + batch]))
        correct += int((logits.argmax(1) == y[start : start + batch]).sum())
    return correct / max(1, len(x))


def train_arrays(
    x: np.ndarray,
    y: np.ndarray,
    labels: list[str],
    out: Path,
    *,
    arch: str = "small",
    epochs: int = 20,
    device: str = "auto",
    seed: int = 0,
    batch_size: int = 128,
    lr: float = 0.05,
    label_smoothing: float = 0.1,
    val_fraction: float = 0.1,
    on_epoch: Callable[[EpochStats], None] | None = None,
) -> TrainResult:
    """Train on uint8 images ``x`` (N, S, S, 3) with label indices ``y``; save to ``out``."""
    check_model_out(out)
    if arch not in ARCHS:
        raise ProviderOptionError(
            f"unknown architecture {arch!r}; choose one of {', '.join(ARCHS)}"
        )
    if epochs < 1:
        raise ProviderOptionError(f"epochs must be at least 1, got {epochs}")
    if x.ndim != 4 or x.shape[3] != 3 or x.shape[1] != x.shape[2] or x.dtype != np.uint8:
        raise ProviderOptionError(f"expected uint8 images (N, S, S, 3), got {x.dtype} {x.shape}")
    started = time.perf_counter()
    dev = resolve_device(device)
    torch.manual_seed(seed)
    gen = torch.Generator(device=dev).manual_seed(seed)
    train_idx, val_idx = stratified_split(y, val_fraction, seed)
    x_all = torch.from_numpy(x).to(dev)
    y_all = torch.from_numpy(y.astype(np.int64)).to(dev)
    x_train, y_train = x_all[train_idx], y_all[train_idx]
    x_val, y_val = x_all[val_idx], y_all[val_idx]

    # Colour statistics of the training split; the model normalizes its own input.
    pixels = x_train.float().div(255.0)
    mean = pixels.mean(dim=(0, 1, 2)).tolist()
    std = pixels.std(dim=(0, 1, 2)).clamp_min(1e-3).tolist()
    del pixels
    model = build_model(arch, len(labels), mean, std).to(dev)
    cuda = dev.type == "cuda"
    torch.backends.cudnn.benchmark = cuda
    # channels_last is faster for these convolutions on CUDA and on CPU (oneDNN) alike.
    model = model.to(memory_format=torch.channels_last)  # type: ignore[call-overload]
    # bf16 autocast needs no loss scaling; fall back to fp16 + scaler on older GPUs.
    amp_dtype = torch.bfloat16 if cuda and torch.cuda.is_bf16_supported() else torch.float16
    scaler = torch.amp.GradScaler("cuda", enabled=cuda and amp_dtype == torch.float16)

    steps_per_epoch = math.ceil(len(train_idx) / batch_size)
    optimizer = torch.optim.SGD(
        model.parameters(), lr=lr, momentum=0.9, nesterov=True, weight_decay=5e-4
    )
    schedule = torch.optim.lr_scheduler.OneCycleLR(
        optimizer, max_lr=lr, epochs=epochs, steps_per_epoch=steps_per_epoch, pct_start=0.25
    )
    train_acc = 0.0
    val_acc: float | None = None
    for epoch in range(1, epochs + 1):
        epoch_start = time.perf_counter()
        model.train()
        order = torch.randperm(len(train_idx), generator=gen, device=dev)
        total_loss, correct = 0.0, 0
        for start in range(0, len(order), batch_size):
            batch = order[start : start + batch_size]
            inputs = augment(_to_float(x_train[batch]), gen)
            inputs = inputs.contiguous(memory_format=torch.channels_last)
            targets = y_train[batch]
            with torch.autocast(dev.type, dtype=amp_dtype, enabled=cuda):
                logits = model(inputs)
                loss = F.cross_entropy(logits, targets, label_smoothing=label_smoothing)
            optimizer.zero_grad(set_to_none=True)
            scaler.scale(loss).backward()
            scaler.step(optimizer)
            scaler.update()
            schedule.step()
            total_loss += float(loss.detach()) * len(batch)
            correct += int((logits.argmax(1) == targets).sum())
        train_acc = correct / len(order)
        val_acc = evaluate(model, x_val, y_val) if len(val_idx) else None
        if on_epoch is not None:
            on_epoch(
                EpochStats(
                    epoch=epoch,
                    epochs=epochs,
                    loss=total_loss / len(order),
                    train_acc=train_acc,
                    val_acc=val_acc,
                    seconds=time.perf_counter() - epoch_start,
                )
            )
    model = model.to(memory_format=torch.contiguous_format).eval()
    seconds = time.perf_counter() - started
    meta = ModelMeta(
        arch=arch,
        labels=list(labels),
        input_size=int(x.shape[1]),
        mean=mean,
        std=std,
        extra={
            "epochs": epochs,
            "seed": seed,
            "device": dev.type,
            "n_train": len(train_idx),
            "n_val": len(val_idx),
            "train_acc": train_acc,
            "val_acc": val_acc,
        },
    )
    path = save_model(Path(out), model, meta)
    return TrainResult(
        model_path=path,
        arch=arch,
        labels=list(labels),
        input_size=int(x.shape[1]),
        epochs=epochs,
        device=dev.type,
        n_train=len(train_idx),
        n_val=len(val_idx),
        train_acc=train_acc,
        val_acc=val_acc,
        seconds=seconds,
    )


def train(
    data_dir: Path,
    out: Path,
    *,
    arch: str = "small",
    epochs: int = 20,
    device: str = "auto",
    seed: int = 0,
    input_size: int | None = None,
    on_epoch: Callable[[EpochStats], None] | None = None,
    **options,
) -> TrainResult:
    """Train on ``data_dir`` (one subfolder per label) and save the model to ``out``.

    ``input_size`` defaults to the first image's side, capped at 64. ``options`` go to
    ``train_arrays`` (batch_size, lr, label_smoothing, val_fraction). Bounds (see the
    module docstring) are checked before any image is loaded.
    """
    check_model_out(out)
    size = guess_input_size(Path(data_dir)) if input_size is None else input_size
    check_input_size(size)
    check_dataset_memory(len(list_labelled_files(Path(data_dir))[1]), size)
    data = load_labelled_folder(Path(data_dir), size)
    return train_arrays(
        data.x,
        data.y,
        data.labels,
        Path(out),
        arch=arch,
        epochs=epochs,
        device=device,
        seed=seed,
        on_epoch=on_epoch,
        **options,
    )
