"""Training a person's surrogate models on their own labelled data (``isotope surrogate train``).

A surrogate predicts each mark's *natural* effect on label j — what any model of the
domain does with it, learned or not — so the verifier can rank what the audited model
does beyond that (``audit.verifiers.surrogate``). Two kinds, both trained here with the
project's trainer (``providers.local.trainer``) on a folder with one subfolder per
label: the person's original, unmarked photos of label j and any other labelled
images of the domain (the auxiliary images, a public data set):

- a **decoy** surrogate: a fresh secret member of the true mark's family (the decoy,
  ``marks.decoys``) is blended into ``fraction`` of label j's images at α, exactly as
  the isotope was. A model that learned one member of the family raises the others
  too (family transfer, measured); a decoy surrogate learns that pattern without
  knowing the true mark. Several are averaged into one regressor.
- a **clean** surrogate: the data as it is (a second regressor, optional).

Why the audit's p-value stays exact with them (the argument is in
``audit.verifiers.surrogate``): the surrogates are trained before the audit, on data
without the true mark (files recorded as marked copies of it are refused) and never
see the audited model's replies; the decoys are fresh secret draws recorded in the
store, so no decoy is ever the true mark or an external.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from audit.surrogates.errors import SurrogateError
from audit.surrogates.manifest import (
    CLEAN,
    DECOY,
    SurrogateManifest,
    SurrogateModel,
    write_manifest,
)
from marks.blend import blend, check_alpha
from marks.decoys import check_decoyable, draw_decoys
from marks.mark import Mark
from marks.marking import check_fraction
from marks.purposes import DEFAULT_ALPHA
from marks.store import MarkStore
from providers.local.dataset import guess_input_size, list_labelled_files, load_labelled_folder
from providers.local.trainer import EpochStats, check_dataset_memory, check_input_size, train_arrays

DEFAULT_DECOYS = 3
DEFAULT_EPOCHS = 25
CPU_SECONDS_PER_IMAGE_EPOCH = 0.0007
"""Measured on 2 idle CPU cores, the small CNN at 32 px: 0.65-0.75 ms per image and epoch
(10 epochs on 4,576 CIFAR images in 35 s, start-up included)."""


@dataclass(frozen=True)
class SurrogatePlan:
    """What ``train_surrogates`` will do, for the line printed before it starts."""

    models: int
    images: int
    label_images: int
    input_size: int
    epochs: int
    cpu_minutes: float  # a rough figure for 2 CPU cores; a GPU takes far less

    def describe(self, device: str) -> str:
        """'trains 4 models locally on cpu: 5,085 images at 32 px, 25 epochs each; ...'"""
        minutes = "under a minute" if self.cpu_minutes < 1 else f"about {self.cpu_minutes:.0f} min"
        return (
            f"training {self.models} surrogate model(s) locally ({device}): {self.images:,} "
            f"images at {self.input_size} px, {self.epochs} epochs each; {minutes} on 2 CPU "
            "cores, far less on a GPU. Nothing is sent anywhere."
        )


def marked_copies(store: MarkStore, mark_name: str) -> set[str]:
    """SHA-256 of every file the store's marking manifests record as marked with the mark."""
    fingerprint = store.info(mark_name)["fingerprint"]
    digests = set()
    for manifest in store.manifests():
        if manifest.get("type") != "marking":
            continue
        made = manifest.get("mark") or {}
        if made.get("name") != mark_name and made.get("fingerprint") != fingerprint:
            continue
        for item in manifest.get("files", []):
            if item.get("marked") and item.get("output_sha256"):
                digests.add(item["output_sha256"])
    return digests


def _check_unmarked(files: list[Path], marked: set[str], folder: Path) -> None:
    if not marked:
        return
    found = [p for p in files if hashlib.sha256(p.read_bytes()).hexdigest() in marked]
    if found:
        shown = ", ".join(str(p.relative_to(folder)) for p in found[:3])
        raise SurrogateError(
            f"{len(found)} file(s) of {folder} are marked copies of your mark ({shown}"
            f"{' ...' if len(found) > 3 else ''}): a surrogate trained on them learns your "
            "mark and would hide it; train on your original photos"
        )


def _named(
    on_epoch: Callable[[str, EpochStats], None] | None, name: str
) -> Callable[[EpochStats], None] | None:
    if on_epoch is None:
        return None
    return lambda stats: on_epoch(name, stats)


def plan_surrogates(
    data_dir: Path, *, label: str, decoys: int, clean: bool, epochs: int, input_size: int | None
) -> SurrogatePlan:
    """Check the data folder and the counts; say how much training it means. Loads nothing."""
    if decoys < 0:
        raise SurrogateError(f"--decoys must be 0 or more, got {decoys}")
    if decoys == 0 and not clean:
        raise SurrogateError("nothing to train: ask for decoys (--decoys N) and/or --clean")
    if epochs < 1:
        raise SurrogateError(f"--epochs must be at least 1, got {epochs}")
    labels, files = list_labelled_files(Path(data_dir))
    if label not in labels:
        raise SurrogateError(
            f"{data_dir} has no subfolder {label!r} (labels: {', '.join(labels[:20])}): the "
            "surrogates need your unmarked photos of the label you audit"
        )
    size = guess_input_size(Path(data_dir)) if input_size is None else input_size
    check_input_size(size)
    check_dataset_memory(len(files), size)
    j = labels.index(label)
    models = decoys + int(clean)
    scale = (size / 32) ** 2
    minutes = models * epochs * len(files) * scale * CPU_SECONDS_PER_IMAGE_EPOCH / 60
    return SurrogatePlan(
        models=models,
        images=len(files),
        label_images=sum(index == j for _, index in files),
        input_size=size,
        epochs=epochs,
        cpu_minutes=minutes,
    )


def train_surrogates(
    data_dir: Path,
    out_dir: Path,
    *,
    store: MarkStore,
    mark_name: str,
    label: str,
    decoys: int = DEFAULT_DECOYS,
    clean: bool = False,
    epochs: int = DEFAULT_EPOCHS,
    arch: str = "small",
    device: str = "auto",
    alpha: float | None = None,
    fraction: float = 0.1,
    input_size: int | None = None,
    seed: int | None = None,
    on_epoch: Callable[[str, EpochStats], None] | None = None,
) -> SurrogateManifest:
    """Train the surrogates of mark ``mark_name`` on label ``label`` into ``out_dir``.

    ``alpha`` defaults to the α the mark was posted with (else its own, else 0.4), as
    audits do. ``seed`` fixes the training seeds and which images carry a decoy
    (decoys themselves always come from fresh secret seeds). ``out_dir`` must be new or
    empty. Raises ``SurrogateError`` (and the trainer's ``ProviderOptionError``) for bad
    input, before any model is trained.
    """
    started = time.perf_counter()
    data_dir, out_dir = Path(data_dir), Path(out_dir)
    mark = store.get(mark_name)
    if alpha is None:
        alpha = store.posted_alpha(mark_name) or store.default_alpha(mark_name) or DEFAULT_ALPHA
    alpha = check_alpha(alpha)
    fraction = check_fraction(fraction)
    plan = plan_surrogates(
        data_dir, label=label, decoys=decoys, clean=clean, epochs=epochs, input_size=input_size
    )
    if decoys:
        check_decoyable(mark)
    if out_dir.exists() and (not out_dir.is_dir() or any(out_dir.iterdir())):
        raise SurrogateError(f"--out {out_dir} exists and is not an empty folder; pick a new one")
    labels, files = list_labelled_files(data_dir)
    _check_unmarked([path for path, _ in files], marked_copies(store, mark_name), data_dir)
    data = load_labelled_folder(data_dir, plan.input_size)
    j = labels.index(label)
    out_dir.mkdir(parents=True, exist_ok=True)
    out_dir.chmod(0o700)  # the models learned the person's data; the manifest names the mark
    rng = np.random.default_rng(secrets.randbits(64) if seed is None else seed)
    decoy_set, decoy_marks = draw_decoys(store, mark, decoys) if decoys else (None, [])
    of_label = np.flatnonzero(data.y == j)
    take = max(1, round(fraction * len(of_label)))
    # (file, role, decoy, its images of label j): one marked copy in memory at a time.
    jobs: list[tuple[str, str, Mark | None, np.ndarray]] = [
        (f"decoy-{i + 1}.pt", DECOY, decoy, rng.choice(of_label, size=take, replace=False))
        for i, decoy in enumerate(decoy_marks)
    ]
    if clean:
        jobs.append(("clean.pt", CLEAN, None, of_label[:0]))
    models: list[SurrogateModel] = []
    used_device = device
    for file, role, decoy, chosen in jobs:
        x = data.x
        if decoy is not None:
            x = data.x.copy()
            x[chosen] = blend(data.x[chosen], decoy, alpha)
        model_seed = int(rng.integers(0, 2**31))
        name = file.removesuffix(".pt")
        result = train_arrays(
            x,
            data.y,
            labels,
            out_dir / file,
            arch=arch,
            epochs=epochs,
            device=device,
            seed=model_seed,
            on_epoch=_named(on_epoch, name),
        )
        used_device = result.device
        models.append(SurrogateModel(file, role, model_seed, result.val_acc, result.seconds))
    manifest = SurrogateManifest(
        mark=mark.name,
        fingerprint=mark.fingerprint,
        kind=mark.kind.value,
        label=label,
        alpha=alpha,
        fraction=fraction,
        decoy_set=decoy_set,
        models=models,
        data={
            "folder": str(data_dir),
            "labels": labels,
            "images": len(data.y),
            "label_images": len(of_label),
            "input_size": plan.input_size,
        },
        arch=arch,
        epochs=epochs,
        device=used_device,
        seconds=time.perf_counter() - started,
        created=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    write_manifest(out_dir, manifest)
    return manifest
