"""Which mark family do trained models learn as a *family*? Train, score, cache.

For each dataset (``cifar10``: ``../shared/data/cifar10_subset.npz``; ``tiny10``:
``../shared/data/tiny-imagenet-10``) and each candidate family (``FAMILIES``), this
trains small CNNs with the project's trainer (``providers.local.trainer.train_arrays``,
its augmentation and schedule: the "model trainer" of the threat model):

- ``clean``: the training set as it is (several seeds);
- ``marked``: 10 % of the "cat" images blended with pool member k of a family at
  α = 0.4 (``marks.blend``), one model per (family, k);
- ``surr_small``: the person's surrogate, trained on held-out images of the domain
  that are neither training images of the audited models nor auxiliary images;
- ``surr_half``: a surrogate trained on a random half of the training set plus the
  held-out images (overlaps the audited models' data, as a public data set would);
- ``decoy_<family>``: a surrogate trained on ``surr_half``-style data whose cats carry a
  *decoy* member of the family (pool index ≥ ``DECOY_BASE``, never used as a true mark
  or external): it predicts how a model that learned *some* member of the family
  treats each mark — the family transfer — without knowing the true mark.

Every model then scores every member of every family's pool (``POOL`` marks, the
isotopes among them) blended into the same ``N_AUX`` auxiliary images (test images,
not cats): the per-image statistic is the verifier's centred log-probability of
"cat" (log p_cat − mean over labels of log p), stored as int16 thousandths under
``benchmarks/results/mark_family/``. Models and score files are cached by name, so a
rerun only does what is missing. ``mark_family_analysis.py`` turns the scores into
family transfer, leads, and error rates.

Runs that made the reported figures (scores land in ``--results``; the analysis reads
that folder):

    # GPU (one H200, 16 cores): 52 CIFAR models, 8 families, ~110 s; then 23 Tiny models
    python benchmarks/mark_family_experiments.py run --dataset cifar10 --marked 5 \
        --clean 6 --surrogates 3 --device cuda --jobs 8 --threads 2
    python benchmarks/mark_family_experiments.py run --dataset tiny10 --marked 3 --clean 4 \
        --surrogates 2 --families procedural,photos,shapes,cppn,dead_leaves_coarse \
        --device cuda --jobs 8 --threads 2
    # CPU: decoy surrogates for two families (6 models)
    python benchmarks/mark_family_experiments.py run --dataset cifar10 --marked 0 \
        --clean 0 --surrogates 0 --decoys 3 --families dead_leaves_coarse,procedural \
        --jobs 2 --threads 1

On 2 CPU cores one CIFAR model trains in ~1.5 min (25 epochs) and scores 64,000
blended images per family in ~1 min on an idle machine (several times longer on a
shared one); a Tiny-ImageNet model costs ~4x that. ``run --budget S`` starts no model
after S seconds; ``pack OUT`` writes every score file into a few npz files (the
analysis reads either form); ``--pool`` and ``--epochs`` shrink a smoke run.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from multiprocessing import get_context
from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DATA = HERE.parents[1] / "shared" / "data"
RESULTS = HERE / "results" / "mark_family"
ALPHA = 0.4
FRACTION = 0.1
TARGET = "cat"
N_AUX = 128
POOL = 500
EPOCHS = 25
SURROGATE_SMALL_EPOCHS = 60  # few images: more passes, the person's compute is free
FAMILIES = (
    "procedural",
    "photos",
    "cppn",
    "gratings",
    "shapes",
    "dead_leaves",
    "dead_leaves_palette",
    "dead_leaves_coarse",
    "dead_leaves_xcoarse",
)
DECOY_BASE = POOL - 10  # pool members from here on are decoys: never a true mark or external
TINY_CAT = "n02124075"  # Egyptian cat


@dataclass
class Dataset:
    """Training images, auxiliary images (not label j) and the held-out rest."""

    name: str
    labels: list[str]
    j: int
    x_train: np.ndarray
    y_train: np.ndarray
    aux: np.ndarray
    spare_x: np.ndarray
    spare_y: np.ndarray

    @property
    def size(self) -> int:
        """Image side."""
        return int(self.x_train.shape[1])


def _split_test(name: str, labels: list[str], j: int, x_train, y_train, x_test, y_test) -> Dataset:
    # Auxiliary images: N_AUX test images not of label j (fixed seed); the rest of the
    # test set is the surrogate's own data.
    rng = np.random.default_rng(0)
    aux_idx = rng.choice(np.flatnonzero(y_test != j), size=N_AUX, replace=False)
    rest = np.setdiff1d(np.arange(len(y_test)), aux_idx)
    return Dataset(
        name=name,
        labels=labels,
        j=j,
        x_train=x_train,
        y_train=y_train.astype(np.int64),
        aux=x_test[aux_idx],
        spare_x=x_test[rest],
        spare_y=y_test[rest].astype(np.int64),
    )


def _read_folder(files: list[Path], size: int) -> np.ndarray:
    from PIL import Image

    out = np.empty((len(files), size, size, 3), np.uint8)
    for i, path in enumerate(files):
        with Image.open(path) as image:
            out[i] = np.asarray(image.convert("RGB").resize((size, size)))
    return out


def load_dataset(name: str, data: Path = DATA) -> Dataset:
    """``cifar10`` or ``tiny10`` from ``data`` (``SystemExit`` when it is missing)."""
    if name == "cifar10":
        path = data / "cifar10_subset.npz"
        if not path.exists():
            raise SystemExit(f"missing {path}: this experiment needs shared/data")
        d = np.load(path)
        labels = [str(s) for s in d["label_names"]]
        return _split_test(
            name, labels, labels.index(TARGET), d["x_train"], d["y_train"], d["x_test"], d["y_test"]
        )
    if name == "tiny10":
        root = data / "tiny-imagenet-10"
        if not root.exists():
            raise SystemExit(f"missing {root}: this experiment needs shared/data")
        labels = sorted(p.name for p in (root / "train").iterdir() if p.is_dir())
        train = [
            (f, i)
            for i, w in enumerate(labels)
            for f in sorted((root / "train" / w).rglob("*.JPEG"))
        ]
        val = [
            (f, i) for i, w in enumerate(labels) for f in sorted((root / "val" / w).glob("*.JPEG"))
        ]
        x_train = _read_folder([f for f, _ in train], 64)
        x_val = _read_folder([f for f, _ in val], 64)
        y_train = np.array([i for _, i in train])
        y_val = np.array([i for _, i in val])
        return _split_test(name, labels, labels.index(TINY_CAT), x_train, y_train, x_val, y_val)
    raise SystemExit(f"unknown dataset {name!r} (cifar10 or tiny10)")


# --- mark pools -------------------------------------------------------------------


def _photo_sources(dataset: str, data: Path, count: int) -> list[np.ndarray]:
    """Photos from outside the audited domain, none of label j's kind."""
    rng = np.random.default_rng(7)
    if dataset == "cifar10":
        root = data / "tiny-imagenet-10" / "train"
        files = sorted(
            f for w in sorted(root.iterdir()) if w.name != TINY_CAT for f in w.rglob("*.JPEG")
        )
        chosen = [files[i] for i in rng.choice(len(files), size=count, replace=False)]
        return list(_read_folder(chosen, 64))
    d = np.load(data / "cifar10_subset.npz")
    cat = [str(s) for s in d["label_names"]].index(TARGET)
    idx = rng.choice(np.flatnonzero(d["y_train"] != cat), size=count, replace=False)
    return list(d["x_train"][idx])


def family_member(family: str, index: int) -> tuple[np.ndarray, np.ndarray]:
    """Pool member ``index`` of a generated family at full size: (pixels, mask)."""
    from mark_family_candidates import GENERATORS, dead_leaves_pil

    from marks.kinds import make_mark

    # 128-bit seeds, like the ones ``secrets`` gives a person's marks.
    state = np.random.SeedSequence([FAMILIES.index(family), index, 20_251_130]).generate_state(4)
    seed = int.from_bytes(state.tobytes(), "little")
    if family == "procedural":
        mark = make_mark(f"p{index}", "procedural", seed=seed)
        return mark.pixels, mark.mask
    rng = np.random.default_rng(seed)
    if family == "dead_leaves_palette":
        pixels, mask, _ = dead_leaves_pil(rng, palette=4)
    elif family == "dead_leaves_coarse":
        pixels, mask, _ = dead_leaves_pil(rng, min_radius=0.06)
    elif family == "dead_leaves_xcoarse":
        pixels, mask, _ = dead_leaves_pil(rng, min_radius=0.1)
    else:
        pixels, mask, _ = GENERATORS[family](rng)
    return pixels, mask


def build_pool(family: str, dataset: str, size: int, count: int, data: Path = DATA) -> np.ndarray:
    """uint8 (count, size, size, 3): each member resized as ``Mark.resized`` does."""
    from marks.mark import Mark, MarkKind

    out = np.empty((count, size, size, 3), np.uint8)
    photos = _photo_sources(dataset, data, count) if family == "photos" else None
    for i in range(count):
        if photos is not None:
            pixels = photos[i].astype(np.float32) / 255.0
            mask = np.ones(pixels.shape[:2], np.float32)
        else:
            pixels, mask = family_member(family, i)
        mark = Mark(name=f"{family}{i}", kind=MarkKind.BLEND, pixels=pixels, mask=mask)
        small, _ = mark.resized(size, size)
        out[i] = np.round(small * 255).astype(np.uint8)
    return out


def pool_marks(pool: np.ndarray) -> list:
    """``Mark`` objects at the pool's size (blending then resizes nothing)."""
    from marks.mark import Mark, MarkKind

    ones = np.ones(pool.shape[1:3], np.float32)
    return [
        Mark(name=f"m{i}", kind=MarkKind.BLEND, pixels=p.astype(np.float32) / 255.0, mask=ones)
        for i, p in enumerate(pool)
    ]


def load_pools(
    dataset: str,
    size: int,
    families: Iterable[str],
    results: Path,
    data: Path = DATA,
    count: int = POOL,
) -> dict:
    """Every family's pool, built once and cached as npz."""
    pools = {}
    for family in families:
        path = results / f"pool_{dataset}_{family}.npz"
        if path.exists():
            pools[family] = np.load(path)["pool"]
            continue
        pool = build_pool(family, dataset, size, count, data)
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp.npz")
        np.savez(tmp, pool=pool)
        os.replace(tmp, path)
        pools[family] = pool
    return pools


# --- models ---------------------------------------------------------------------


@dataclass(frozen=True)
class ModelSpec:
    """One model to train: its role, data, isotope and seed."""

    dataset: str
    name: str
    role: str  # clean | marked | surr_small | surr_half | surr_decoy
    seed: int
    family: str | None = None
    isotope: int | None = None  # index into the family's pool
    epochs: int = EPOCHS


def plan(
    dataset: str,
    families: list[str],
    marked: int,
    clean: int,
    surrogates: int,
    decoys: int = 0,
    small: bool = True,
) -> list[ModelSpec]:
    """Models in priority order: the first ones matter most if time runs out."""
    specs: list[ModelSpec] = []
    rounds = max(marked, clean, surrogates, decoys)
    for k in range(rounds):
        if k < clean:
            specs.append(ModelSpec(dataset, f"clean{k}", "clean", seed=100 + k))
        if k < surrogates:
            if small:
                specs.append(
                    ModelSpec(
                        dataset,
                        f"surr_small{k}",
                        "surr_small",
                        300 + k,
                        epochs=SURROGATE_SMALL_EPOCHS,
                    )
                )
            specs.append(ModelSpec(dataset, f"surr_half{k}", "surr_half", seed=400 + k))
        if k < decoys:
            for f, family in enumerate(families):
                specs.append(
                    ModelSpec(
                        dataset,
                        f"decoy_{family}{k}",
                        "surr_decoy",
                        500 + 10 * f + k,
                        family,
                        DECOY_BASE + k,
                    )
                )
        if k < marked:
            for f, family in enumerate(families):
                specs.append(
                    ModelSpec(dataset, f"{family}{k}", "marked", 1000 + 10 * f + k, family, k)
                )
    return specs


def training_set(ds: Dataset, spec: ModelSpec, pools: dict) -> tuple[np.ndarray, np.ndarray]:
    """The images and labels ``spec`` trains on (marked copies are new arrays)."""
    from marks.blend import blend

    rng = np.random.default_rng(spec.seed)
    if spec.role == "clean":
        return ds.x_train, ds.y_train
    if spec.role == "marked":
        assert spec.family is not None and spec.isotope is not None
        mark = pool_marks(pools[spec.family][spec.isotope : spec.isotope + 1])[0]
        cats = np.flatnonzero(ds.y_train == ds.j)
        chosen = rng.choice(cats, size=round(FRACTION * len(cats)), replace=False)
        x = ds.x_train.copy()
        x[chosen] = blend(ds.x_train[chosen], mark, ALPHA)
        return x, ds.y_train
    if spec.role == "surr_small":
        return ds.spare_x, ds.spare_y
    if spec.role in ("surr_half", "surr_decoy"):
        half = rng.choice(len(ds.y_train), size=len(ds.y_train) // 2, replace=False)
        x = np.concatenate([ds.x_train[half], ds.spare_x])
        y = np.concatenate([ds.y_train[half], ds.spare_y])
        if spec.role == "surr_decoy":
            assert spec.family is not None and spec.isotope is not None
            decoy = pool_marks(pools[spec.family][spec.isotope : spec.isotope + 1])[0]
            cats = np.flatnonzero(y == ds.j)
            chosen = rng.choice(cats, size=round(FRACTION * len(cats)), replace=False)
            x[chosen] = blend(x[chosen], decoy, ALPHA)
        return x, y
    raise ValueError(f"unknown role {spec.role!r}")


_CACHE: dict = {}


def _context(dataset: str, families: tuple[str, ...], results: Path, data: Path) -> tuple:
    # Per process: the dataset, pools and every family's blended auxiliary images,
    # built once and reused by every model this process scores.
    key = (dataset, families)
    if key not in _CACHE:
        from marks.blend import blend

        _CACHE.clear()
        ds = load_dataset(dataset, data)
        pools = load_pools(dataset, ds.size, families, results, data)
        blended = {
            f: np.concatenate([blend(ds.aux, m, ALPHA) for m in pool_marks(pools[f])])
            for f in families
        }
        _CACHE[key] = (ds, pools, blended)
    return _CACHE[key]


def score_file(results: Path, spec: ModelSpec) -> Path:
    """Where one model's scores live."""
    return results / f"scores_{spec.dataset}_{spec.name}.npz"


def train_and_score(
    spec: ModelSpec,
    families: tuple[str, ...],
    results: Path,
    data: Path,
    device: str,
    threads: int,
    deadline: float,
) -> str:
    """Train (or load) the model of ``spec``, score every pool; returns a status line."""
    import torch

    from providers.local.predictor import Predictor
    from providers.local.trainer import train_arrays

    out = score_file(results, spec)
    if out.exists():
        return f"{spec.name}: cached"
    if time.time() > deadline:
        return f"{spec.name}: skipped (budget)"
    torch.set_num_threads(threads)
    ds, pools, blended = _context(spec.dataset, families, results, data)
    model_path = results / "models" / f"{spec.dataset}_{spec.name}.pt"
    started = time.perf_counter()
    meta: dict = {"spec": asdict(spec)}
    if not model_path.exists():
        x, y = training_set(ds, spec, pools)
        result = train_arrays(
            x, y, ds.labels, model_path, epochs=spec.epochs, device=device, seed=spec.seed
        )
        meta |= {"val_acc": result.val_acc, "train_seconds": result.seconds, "n_train": len(y)}
    predictor = Predictor(model_path, device=device, chunk=4096)
    arrays: dict[str, np.ndarray] = {}
    for family in families:
        logp = np.log(np.clip(predictor.predict(blended[family]), 1e-12, None))
        stat = (logp[:, ds.j] - logp.mean(axis=1)).reshape(len(pools[family]), len(ds.aux))
        arrays[family] = np.clip(np.round(stat * 1000), -32767, 32767).astype(np.int16)
    clean_logp = np.log(np.clip(predictor.predict(ds.aux), 1e-12, None))
    arrays["_unmarked"] = np.round((clean_logp[:, ds.j] - clean_logp.mean(axis=1)) * 1000).astype(
        np.int16
    )
    meta["seconds"] = time.perf_counter() - started
    tmp = out.with_suffix(".tmp.npz")
    arrays["meta"] = np.array(json.dumps(meta))
    np.savez(tmp, allow_pickle=False, **arrays)
    os.replace(tmp, out)
    acc = meta.get("val_acc")
    return (
        f"{spec.name}: val acc {acc if acc is None else round(acc, 3)} in {meta['seconds']:.0f} s"
    )


def run(args: argparse.Namespace) -> None:
    """Train and score the planned models, in parallel processes when ``--jobs`` > 1."""
    families = tuple(args.families.split(",")) if args.families else FAMILIES
    results = Path(args.results)
    deadline = time.time() + args.budget
    datasets = args.dataset.split(",")
    specs = []
    for dataset in datasets:
        ds = load_dataset(dataset, Path(args.data))
        # Once, before the workers start.
        load_pools(dataset, ds.size, families, results, Path(args.data), args.pool)
        specs += plan(
            dataset,
            list(families),
            args.marked,
            args.clean,
            args.surrogates,
            args.decoys,
            not args.no_small,
        )
    if args.epochs:
        specs = [ModelSpec(**{**asdict(s), "epochs": args.epochs}) for s in specs]
    print(f"{len(specs)} models planned", flush=True)
    common = (families, results, Path(args.data), args.device, args.threads, deadline)
    if args.jobs == 1:
        for spec in specs:
            print(train_and_score(spec, *common), flush=True)
        return
    with ProcessPoolExecutor(args.jobs, mp_context=get_context("spawn")) as pool:
        futures = [pool.submit(train_and_score, spec, *common) for spec in specs]
        for spec, future in zip(specs, futures, strict=True):
            try:
                print(future.result(), flush=True)
            except Exception as exc:  # one failed model must not lose the others' scores
                print(f"{spec.name}: FAILED {exc!r}", flush=True)


def pack(args: argparse.Namespace) -> None:
    """Write all score files into at most ``--files`` npz files under ``out``."""
    results = Path(args.results)
    files = sorted(results.glob("scores_*.npz"))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    chunks = np.array_split(np.arange(len(files)), max(1, min(args.files, len(files))))
    for c, chunk in enumerate(chunks):
        arrays = {}
        for i in chunk:
            name = files[i].stem.removeprefix("scores_")
            with np.load(files[i]) as d:
                for key in d.files:
                    arrays[f"{name}|{key}"] = d[key]
        np.savez_compressed(out / f"packed_{c}.npz", **arrays)
    print(f"packed {len(files)} score files into {len(chunks)} under {out}")


def main() -> None:
    """Command line: ``run`` or ``pack``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="train and score (cached)")
    r.add_argument("--dataset", default="cifar10", help="cifar10, tiny10, or both comma-separated")
    r.add_argument("--families", default="", help="comma-separated (default: all)")
    r.add_argument("--marked", type=int, default=3, help="marked models per family")
    r.add_argument("--clean", type=int, default=3)
    r.add_argument("--surrogates", type=int, default=2, help="of each surrogate kind")
    r.add_argument("--decoys", type=int, default=0, help="decoy surrogates per family")
    r.add_argument("--no-small", action="store_true", help="no surr_small models")
    r.add_argument("--epochs", type=int, default=0, help="override every model's epochs (smoke)")
    r.add_argument("--pool", type=int, default=POOL, help="marks per family (new pools only)")
    r.add_argument("--device", default="cpu")
    r.add_argument("--jobs", type=int, default=1)
    r.add_argument("--threads", type=int, default=1, help="torch threads per job")
    r.add_argument("--budget", type=float, default=1e9, help="start no model after S seconds")
    r.add_argument("--results", default=str(RESULTS))
    r.add_argument("--data", default=str(DATA))
    p = sub.add_parser("pack", help="bundle score files")
    p.add_argument("out")
    p.add_argument("--files", type=int, default=6)
    p.add_argument("--results", default=str(RESULTS))
    args = parser.parse_args()
    {"run": run, "pack": pack}[args.command](args)


if __name__ == "__main__":
    main()
