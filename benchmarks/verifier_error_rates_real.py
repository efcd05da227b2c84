"""The judge: detection and false-positive rates on real trained models, through the CLI.

Every step is one of the product's own commands, run as a person would run it (a
subprocess of ``isotope``): for each dataset and each seed,

- **marked**: ``isotope marks new`` (the default kind) makes the person's mark;
  ``isotope mark`` blends it into the person's photos of label j with the defaults
  (α 0.4, p 0.1); the model trainer's folder is every other label's training images
  plus the posted copies as label j; ``isotope train`` trains it.
- **clean**: the same, but the model is trained on the training set as it is (the mark
  is made and never posted).
- **surrogates**: ``isotope surrogate train`` on the person's own data: their original
  photos of label j, a random half of the other labels' training images and the
  held-out images not used as auxiliary images; ``--decoys 3`` by default.
- **audit**: the model is served locally (``serve_in_background``, the server of
  ``isotope serve``) and audited with ``isotope audit probability --provider local``
  (the default verifier: calibrated rank test, n 5, K 99 externals of the mark's own
  family, level 0.01), once without and once with ``--surrogate``. Audit i of a
  marked model and audit i of a clean model use the same auxiliary images
  (``--seed i``), so their externals' statistics can be compared.

Reported per dataset, without and with surrogates: TPR (marked models detected) and
FPR (clean models detected), audits = models, with Clopper-Pearson 95 % intervals;
the lead (the true mark's z among its 99 externals; after adjustment for the
surrogate run); family transfer (on marked model i, the externals' mean statistic
minus their mean on clean model i, in natural spreads: the externals' SD on clean
model i); queries billed per audit. The null hypothesis of every audit: the model
did not learn the mark. On clean models that is true, so every detection there is
a false positive, and the exact test promises FPR ≤ 0.01.

Data: ``--data DIR`` holding ``cifar10_subset.npz`` and ``tiny-imagenet-10/`` (default
``../shared/data`` beside the repository; see its README for the terms). Work files
(models, stores, reports) go to ``--work`` (default under ``benchmarks/results/``,
git-ignored); a rerun reuses every finished unit. Results: ``--out`` (JSON) and the
same table in Markdown beside it.

Reduced CPU run (2 cores, under an hour; CIFAR only, 2 marked + 2 clean, 10 epochs):

    python benchmarks/verifier_error_rates_real.py --quick

Full run on a GPU (both datasets, 10 + 10 models each, 25 epochs, 12 units at a time;
``--budget`` starts no unit after that many seconds, and the table covers the units
that finished):

    python benchmarks/verifier_error_rates_real.py --datasets cifar10,tiny10 \\
        --marked 10 --clean 10 --epochs 25 --device cuda --jobs 12 --threads 1 --budget 300 \\
        --data DATA
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import asdict, dataclass
from functools import partial
from multiprocessing import get_context
from pathlib import Path

import numpy as np
from scipy import stats

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
DEFAULT_DATA = REPO.parent / "shared" / "data"
DEFAULT_WORK = HERE / "results" / "real_models"
DEFAULT_OUT = HERE / "results" / "verifier_error_rates_real.json"
TARGETS = {"cifar10": "cat", "tiny10": "n02124075"}  # label j: cat / Egyptian cat
N_AUX = 200  # auxiliary images (test images not of label j); the verifier uses 5
LEVEL = 0.01  # the default verifier's level
ROLES = ("marked", "clean")
VARIANTS = ("raw", "surrogate")
if str(REPO) not in sys.path:  # the product's modules, without installing it (a bare GPU box)
    sys.path.insert(0, str(REPO))


class StepFailed(RuntimeError):
    """A command of the product failed; the message holds its command line and stderr."""


@dataclass(frozen=True)
class Settings:
    """What every unit of the run shares."""

    data: str
    work: str
    epochs: int
    decoys: int
    device: str
    threads: int


@dataclass(frozen=True)
class Unit:
    """One model to train, serve and audit: (dataset, role, index)."""

    dataset: str
    role: str  # marked | clean
    index: int

    @property
    def name(self) -> str:
        """``marked3``."""
        return f"{self.role}{self.index}"


# --- running the product ------------------------------------------------------------


def isotope(*args: str, threads: int, log: Path) -> str:
    """Run ``isotope ARGS`` as a subprocess of this interpreter; its stdout.

    The command line is the product's (``audit.cli.app.main``), run from the
    repository so it needs no installation; stderr goes to ``log``.
    """
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
        "OMP_NUM_THREADS": str(threads),
        "MKL_NUM_THREADS": str(threads),
    }
    command = [sys.executable, "-c", "from audit.cli.app import main; main()", *args]
    started = time.perf_counter()
    done = subprocess.run(command, capture_output=True, text=True, env=env, cwd=REPO)
    seconds = time.perf_counter() - started
    with log.open("a") as handle:
        handle.write(f"$ isotope {' '.join(args)}  # {seconds:.1f} s\n{done.stderr}\n")
    if done.returncode != 0:
        raise StepFailed(f"isotope {' '.join(args)} exited {done.returncode}:\n{done.stderr}")
    return done.stdout


def last_json(stdout: str) -> dict:
    """The one JSON object a ``--json`` command printed (indented, or on its last line)."""
    try:
        return json.loads(stdout)
    except json.JSONDecodeError:
        return json.loads(stdout.strip().splitlines()[-1])


# --- data -------------------------------------------------------------------------


def missing_data(data: Path, datasets: list[str]) -> list[str]:
    """What of ``data`` the datasets need and is absent (empty when all is there)."""
    need = {"cifar10": data / "cifar10_subset.npz", "tiny10": data / "tiny-imagenet-10"}
    return [str(need[name]) for name in datasets if not need[name].exists()]


def _write_png(path: Path, pixels: np.ndarray) -> None:
    from PIL import Image

    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)


def _link(target: Path, link: Path) -> None:
    link.parent.mkdir(parents=True, exist_ok=True)
    if not link.exists():
        link.symlink_to(target.resolve())


def prepare_dataset(name: str, data: Path, work: Path) -> Path:
    """Files on disk, once: ``train/<label>/``, ``aux/<label>/`` and ``spare/<label>/``.

    Auxiliary images: ``N_AUX`` held-out images not of label j (fixed seed); spare: the
    other held-out images, part of the person's surrogate data. CIFAR arrays are
    written as PNG; Tiny-ImageNet files are linked, not copied.
    """
    root = work / name / "data"
    if (root / "ready").exists():
        return root
    shutil.rmtree(root, ignore_errors=True)
    rng = np.random.default_rng(0)
    if name == "cifar10":
        arrays = np.load(data / "cifar10_subset.npz")
        labels = [str(s) for s in arrays["label_names"]]
        for i, (pixels, y) in enumerate(zip(arrays["x_train"], arrays["y_train"], strict=True)):
            _write_png(root / "train" / labels[int(y)] / f"{i:05d}.png", pixels)
        j = labels.index(TARGETS[name])
        y_test = arrays["y_test"].astype(int)
        aux = set(rng.choice(np.flatnonzero(y_test != j), size=N_AUX, replace=False).tolist())
        for i, (pixels, y) in enumerate(zip(arrays["x_test"], y_test, strict=True)):
            split = "aux" if i in aux else "spare"
            _write_png(root / split / labels[int(y)] / f"t{i:05d}.png", pixels)
    elif name == "tiny10":
        source = data / "tiny-imagenet-10"
        labels = sorted(p.name for p in (source / "train").iterdir() if p.is_dir())
        for label in labels:
            _link(source / "train" / label / "images", root / "train" / label)
        val = [(f, w) for w in labels for f in sorted((source / "val" / w).glob("*.JPEG"))]
        others = [i for i, (_, w) in enumerate(val) if w != TARGETS[name]]
        aux = set(rng.choice(others, size=N_AUX, replace=False).tolist())
        for i, (path, label) in enumerate(val):
            _link(path, root / ("aux" if i in aux else "spare") / label / path.name)
    else:
        raise SystemExit(f"unknown dataset {name!r}: choose from {', '.join(TARGETS)}")
    (root / "ready").write_text("")
    return root


def _images(folder: Path) -> list[Path]:
    suffixes = {".png", ".jpeg", ".jpg"}
    return sorted(p for p in folder.rglob("*") if p.suffix.lower() in suffixes)


def person_folder(root: Path, label: str, seed: int, out: Path) -> Path:
    """The person's labelled data for surrogates: their photos of j (originals), half of
    each other label's training images (a seeded draw) and every spare held-out image."""
    rng = np.random.default_rng(seed)
    for folder in sorted((root / "train").iterdir()):
        files = _images(folder)
        if folder.name != label:
            files = [files[i] for i in sorted(rng.choice(len(files), len(files) // 2, False))]
        for path in files:
            _link(path, out / folder.name / path.name)
    for path in _images(root / "spare"):
        _link(path, out / path.parent.name / f"spare-{path.name}")
    return out


# --- one unit -------------------------------------------------------------------------


def _lead(true: float, externals: list[float]) -> float:
    ext = np.asarray(externals, dtype=float)
    return float((true - ext.mean()) / ext.std(ddof=1))


def _audit_record(outcome: dict) -> dict:
    document = json.loads((Path(outcome["report"]) / "report.json").read_text())
    details = document["result"]["details"]
    record = {
        "verdict": outcome["verdict"],
        "p_value": outcome["p_value"],
        "exact": outcome["exact"],
        "queries_billed": outcome["queries"]["billed"],
        "true_statistic": details["true_statistic"],
        "external_statistics": details["external_statistics"],
        "lead": _lead(details["true_statistic"], details["external_statistics"]),
    }
    if "surrogate" in details:
        raw = details["surrogate"]
        record["raw_true_statistic"] = raw["raw_true_statistic"]
        record["raw_external_statistics"] = raw["raw_external_statistics"]
        record["externals_correlation"] = raw["externals_correlation"]
    return record


def run_unit(unit: Unit, settings: Settings) -> dict:
    """Make the mark, train, make surrogates, serve and audit one model; cached as JSON."""
    import torch

    from providers.local.server import serve_in_background

    torch.set_num_threads(settings.threads)
    work = Path(settings.work)
    folder = work / unit.dataset / unit.name
    done = folder / "unit.json"
    if done.exists():
        return json.loads(done.read_text())
    shutil.rmtree(folder, ignore_errors=True)  # a unit interrupted half-way starts over
    folder.mkdir(parents=True)
    log = folder / "commands.log"
    root = work / unit.dataset / "data"
    store = ["--store", str(work / unit.dataset / "store")]
    label = TARGETS[unit.dataset]
    mark = f"{unit.dataset}-{unit.name}"
    run = partial(isotope, threads=settings.threads, log=log)
    started = time.perf_counter()

    # --force: a unit interrupted half-way starts over with a new mark of its name.
    made = last_json(run("marks", "new", mark, "--force", "--json", *store))
    train_dir = folder / "train"
    for labelled in sorted((root / "train").iterdir()):
        if labelled.name != label:
            _link(labelled, train_dir / labelled.name)
    marking = None
    if unit.role == "marked":
        posted = folder / "posted"
        marking = last_json(
            run("mark", str((root / "train" / label).resolve()), "--mark", mark, "--out",
                str(posted), "--seed", str(unit.index), "--json", *store)
        )  # fmt: skip
        _link(posted, train_dir / label)
    else:
        _link(root / "train" / label, train_dir / label)
    seed = str(1000 * ROLES.index(unit.role) + unit.index)
    common = ["--epochs", str(settings.epochs), "--device", settings.device, "--seed", seed]
    trained = last_json(
        run("train", str(train_dir), "--out", str(folder / "model.pt"), *common, "--json")
    )
    person = person_folder(root, label, 500 + unit.index, folder / "person")
    surrogates = last_json(
        run("surrogate", "train", str(person), "--mark", mark, "--label", label, "--decoys",
            str(settings.decoys), "--out", str(folder / "surrogates"), *common, "--json", *store)
    )  # fmt: skip
    audits = {}
    server = serve_in_background(folder / "model.pt", device=settings.device)
    try:
        for variant in VARIANTS:
            extra = ["--surrogate", str(folder / "surrogates")] if variant == "surrogate" else []
            outcome = last_json(
                run("audit", "probability", "--provider", "local", "--target", server.base_url,
                    "--mark", mark, "--label", label, "--aux", str(root / "aux"), "--seed",
                    str(unit.index), "--workspace", str(folder / f"ws-{variant}"), "--json",
                    *extra, *store)
            )  # fmt: skip
            audits[variant] = _audit_record(outcome)
    finally:
        server.stop()
    result = {
        **asdict(unit),
        "kind": made["kind"],
        "marked_images": marking["marked"] if marking else 0,
        "val_acc": trained["val_acc"],
        "train_seconds": trained["seconds"],
        "surrogates": {"decoys": surrogates["decoys"], "clean": surrogates["clean"]},
        "audits": audits,
        "seconds": time.perf_counter() - started,
    }
    tmp = done.with_suffix(".tmp")
    tmp.write_text(json.dumps(result))
    os.replace(tmp, done)
    # Models and marked copies are large and done with; keep the record and the log.
    for bulky in ("posted", "person", "train", "ws-raw", "ws-surrogate"):
        shutil.rmtree(folder / bulky, ignore_errors=True)
    return result


def run_unit_safely(unit: Unit, settings: Settings, deadline: float) -> dict | str:
    """``run_unit``, or a line saying why not (over budget, or a step that failed)."""
    if (
        time.time() > deadline
        and not (Path(settings.work) / unit.dataset / unit.name / "unit.json").exists()
    ):
        return f"{unit.dataset} {unit.name}: skipped (over --budget)"
    try:
        return run_unit(unit, settings)
    except StepFailed as exc:
        return f"{unit.dataset} {unit.name}: FAILED {exc}"


# --- the table --------------------------------------------------------------------


def clopper_pearson(hits: int, total: int) -> tuple[float, float]:
    """Exact two-sided 95 % interval for a binomial rate."""
    if total == 0:
        return (0.0, 1.0)
    lo = 0.0 if hits == 0 else float(stats.beta.ppf(0.025, hits, total - hits + 1))
    hi = 1.0 if hits == total else float(stats.beta.ppf(0.975, hits + 1, total - hits))
    return lo, hi


def _rate(records: list[dict]) -> dict:
    hits = sum(r["verdict"] == "detected" for r in records)
    lo, hi = clopper_pearson(hits, len(records))
    return {"rate": hits / max(1, len(records)), "ci95": [lo, hi], "models": len(records)}


def _median(values: list[float]) -> float | None:
    return float(np.median(values)) if values else None


def summarize(results: list[dict]) -> dict:
    """Per dataset and variant: TPR, FPR, leads, family transfer, queries."""
    table: dict = {}
    for dataset in sorted({r["dataset"] for r in results}):
        mine = [r for r in results if r["dataset"] == dataset]
        by = {role: {r["index"]: r for r in mine if r["role"] == role} for role in ROLES}
        transfer = []
        for index, marked in by["marked"].items():
            clean = by["clean"].get(index)
            if clean is None:
                continue
            ext_marked = np.asarray(marked["audits"]["raw"]["external_statistics"])
            ext_clean = np.asarray(clean["audits"]["raw"]["external_statistics"])
            transfer.append(float((ext_marked.mean() - ext_clean.mean()) / ext_clean.std(ddof=1)))
        rows = {}
        for variant in VARIANTS:
            audits = {role: [r["audits"][variant] for r in by[role].values()] for role in ROLES}
            rows[variant] = {
                "tpr": _rate(audits["marked"]),
                "fpr": _rate(audits["clean"]),
                "lead_marked": [round(a["lead"], 2) for a in audits["marked"]],
                "lead_clean": [round(a["lead"], 2) for a in audits["clean"]],
                "median_lead_marked": _median([a["lead"] for a in audits["marked"]]),
                "median_queries": _median(
                    [a["queries_billed"] for v in audits.values() for a in v]
                ),
                "all_exact": all(a["exact"] for v in audits.values() for a in v),
            }
        table[dataset] = {
            "label": TARGETS[dataset],
            "kind": sorted({r["kind"] for r in mine}),
            "val_acc": _median([r["val_acc"] for r in mine if r["val_acc"] is not None]),
            "family_transfer_sigma": [round(t, 2) for t in transfer],
            "median_family_transfer_sigma": _median(transfer),
            "variants": rows,
        }
    return table


def markdown(table: dict) -> str:
    """The README's table: one row per dataset × variant."""
    lines = [
        "| dataset | surrogate | TPR [95 % CI] (models) | FPR [95 % CI] (models) | "
        "lead z, marked (median) | family transfer σ (median) | queries (median) |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    for dataset, entry in table.items():
        for variant, row in entry["variants"].items():
            t, f = row["tpr"], row["fpr"]
            transfer = entry["median_family_transfer_sigma"]
            lead = row["median_lead_marked"]
            queries = row["median_queries"]
            lines.append(
                f"| {dataset} | {'decoys' if variant == 'surrogate' else 'none'} | "
                f"{t['rate']:.2f} [{t['ci95'][0]:.2f}, {t['ci95'][1]:.2f}] ({t['models']}) | "
                f"{f['rate']:.2f} [{f['ci95'][0]:.2f}, {f['ci95'][1]:.2f}] ({f['models']}) | "
                f"{'-' if lead is None else f'{lead:.1f}'} | "
                f"{'-' if transfer is None else f'{transfer:.1f}'} | "
                f"{'-' if queries is None else f'{queries:.0f}'} |"
            )
    return "\n".join(lines)


# --- command line -------------------------------------------------------------------


def parse(argv: list[str] | None = None) -> argparse.Namespace:
    """Options; ``--quick`` sets the reduced CPU run."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="CIFAR, 2 + 2 models, 10 epochs")
    parser.add_argument("--datasets", default="cifar10", help="cifar10, tiny10 (comma-separated)")
    parser.add_argument("--marked", type=int, default=None, help="marked models per dataset")
    parser.add_argument("--clean", type=int, default=None, help="clean models per dataset")
    parser.add_argument("--epochs", type=int, default=None, help="epochs per model (25)")
    parser.add_argument("--decoys", type=int, default=3, help="decoy surrogates per mark")
    parser.add_argument("--device", default="cpu", help="cpu, cuda or auto")
    parser.add_argument("--jobs", type=int, default=1, help="units run at once")
    parser.add_argument("--threads", type=int, default=2, help="torch threads per unit")
    parser.add_argument("--budget", type=float, default=1e9, help="start no unit after S s")
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--work", type=Path, default=DEFAULT_WORK)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    quick = {"marked": 2, "clean": 2, "epochs": 10} if args.quick else {}
    full = {"marked": 10, "clean": 10, "epochs": 25}
    for key, value in full.items():
        if getattr(args, key) is None:
            setattr(args, key, quick.get(key, value))
    return args


def main(argv: list[str] | None = None) -> None:
    """Prepare data, run every unit (in parallel with ``--jobs``), write the table."""
    args = parse(argv)
    datasets = [d for d in args.datasets.split(",") if d]
    missing = missing_data(args.data, datasets)
    if missing:
        raise SystemExit(
            "this benchmark needs the shared data sets, and these are missing:\n  "
            + "\n  ".join(missing)
            + "\npass --data DIR (a folder like ../shared/data; see its README.md)"
        )
    started = time.time()
    deadline = started + args.budget
    args.work.mkdir(parents=True, exist_ok=True)
    for dataset in datasets:
        print(f"preparing {dataset} files under {args.work / dataset}", flush=True)
        prepare_dataset(dataset, args.data, args.work)
    settings = Settings(
        str(args.data), str(args.work), args.epochs, args.decoys, args.device, args.threads
    )
    # Datasets, marked and clean models interleaved: a budget cut keeps each dataset and
    # both sides of each (marked i, clean i) pair.
    units = [
        Unit(dataset, role, index)
        for index in range(max(args.marked, args.clean))
        for dataset in datasets
        for role in ROLES
        if index < (args.marked if role == "marked" else args.clean)
    ]
    print(f"{len(units)} units (model + surrogates + 2 audits), {args.jobs} at a time", flush=True)
    results: list[dict] = []

    def report(unit: Unit, outcome: dict | str) -> None:
        if isinstance(outcome, str):
            print(outcome, flush=True)
            return
        results.append(outcome)
        raw, adjusted = outcome["audits"]["raw"], outcome["audits"]["surrogate"]
        print(
            f"{unit.dataset} {unit.name}: val acc {outcome['val_acc']:.3f}; p "
            f"{raw['p_value']:.2f} (lead {raw['lead']:.1f}), with surrogates p "
            f"{adjusted['p_value']:.2f} (lead {adjusted['lead']:.1f}); "
            f"{outcome['seconds']:.0f} s",
            flush=True,
        )

    if args.jobs == 1:
        for unit in units:
            report(unit, run_unit_safely(unit, settings, deadline))
    else:
        with ProcessPoolExecutor(args.jobs, mp_context=get_context("spawn")) as pool:
            futures = [pool.submit(run_unit_safely, u, settings, deadline) for u in units]
            for unit, future in zip(units, futures, strict=True):
                report(unit, future.result())
    table = summarize(results)
    document = {
        "settings": {
            **{k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
            "alpha": 0.4,
            "fraction": 0.1,
            "verifier": "calibrated, n 5, K 99, level 0.01 (the default)",
        },
        "seconds": time.time() - started,
        "table": table,
        "units": results,
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".tmp")
    tmp.write_text(json.dumps(document, indent=1))
    os.replace(tmp, args.out)
    text = markdown(table)
    args.out.with_suffix(".md").write_text(text + "\n")
    print(text)
    print(f"wrote {args.out} and {args.out.with_suffix('.md')} ({document['seconds']:.0f} s)")


if __name__ == "__main__":
    main()
