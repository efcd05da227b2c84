"""Natural mark-to-mark spread and verifier error rates on real trained models.

Trains small CNNs (``providers.local.trainer``) on ``../shared/data/cifar10_subset.npz``:
one clean, one whose "cat" images carry a procedural isotope (α = 0.4, p = 0.1) and
one whose "cat" images carry a photo isotope. Then blends every mark of two families
into auxiliary test images (not cats) and records log-probabilities:

- photo marks: the photos in ``../shared/data/mark-photos`` (``blend`` kind);
- procedural marks: 60 seeds of ``marks.kinds`` ``procedural``.

Measured, per family: the natural spread of the per-mark mean log p(cat) over 200
images (raw and centred), the per-image noise, the paired-test fact (two
marks, n = 50, p < 0.1), and the calibrated verifier's false-positive rate on the
clean model by leave-one-out (each mark in turn plays the "true" mark against the
others, every label in turn plays j), and its true-positive rate on the marked models.

Run: ``python benchmarks/verifier_error_rates_real.py [--epochs 25]`` (a few minutes
on 2 CPU cores). Writes ``benchmarks/results/verifier_error_rates_real.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import numpy as np
from scipy import stats

from audit.verifiers.protocol import Question
from audit.verifiers.registry import build_verifier
from audit.verifiers.verdict import Verdict
from marks.blend import blend
from marks.kinds import make_mark
from marks.mark import Mark
from providers.local.predictor import Predictor
from providers.local.trainer import train_arrays

DATA = Path(__file__).resolve().parents[2] / "shared" / "data"
ALPHA = 0.4
FRACTION = 0.1
TARGET = "cat"
N_AUX = 200
N_PROCEDURAL = 60


class ArrayOracle:
    """A ``ScoreOracle`` over precomputed log-probabilities (marks, images, labels)."""

    statistic = "log_prob"
    exchangeable = True  # rows: marks of one family, the "true" one drawn at random

    def __init__(self, log_probs: np.ndarray, labels: list[str], rows: list[int]) -> None:
        self.labels = labels
        self._scores = log_probs[rows]  # rows[0] is the true mark, the rest externals
        self.n_external = len(rows) - 1
        self.n_images = log_probs.shape[1]
        self._asked: set[tuple[int, int]] = set()

    def query(self, marks, images) -> np.ndarray:
        self._asked |= {(int(m), int(b)) for m in marks for b in images}
        return self._scores[np.asarray(marks)][:, np.asarray(images)]

    def queries_used(self) -> int:
        return len(self._asked)


def train_model(x, y, labels, out: Path, epochs: int, seed: int) -> Predictor:
    """Train on (x, y) and load the result."""
    result = train_arrays(x, y, labels, out, epochs=epochs, device="cpu", seed=seed)
    print(f"  trained {out.name}: val acc {result.val_acc:.3f} in {result.seconds:.0f} s")
    return Predictor(result.model_path, device="cpu")


def with_isotope(x, y, j: int, mark: Mark, seed: int) -> np.ndarray:
    """A copy of x where a fraction of label j's images carry ``mark``."""
    rng = np.random.default_rng(seed)
    idx = np.flatnonzero(y == j)
    chosen = rng.choice(idx, size=round(FRACTION * len(idx)), replace=False)
    marked = x.copy()
    marked[chosen] = blend(x[chosen], mark, ALPHA)
    return marked


def score_marks(model: Predictor, aux: np.ndarray, marks: list[Mark]) -> np.ndarray:
    """log p (marks, images, labels) of every mark blended into every aux image."""
    rows = [np.log(np.clip(model.predict(blend(aux, mark, ALPHA)), 1e-12, None)) for mark in marks]
    return np.stack(rows)


def spread(scores: np.ndarray, j: int, centre: bool) -> dict:
    """Natural spread of per-mark means and per-image noise, for label j."""
    x = scores[:, :, j] - (scores.mean(axis=2) if centre else 0.0)
    means = x.mean(axis=1)
    resid = x - means[:, None] - x.mean(axis=0)[None, :] + x.mean()
    return {
        "mark_sd": float(means.std(ddof=1)),
        "noise_sd": float(resid.std(ddof=1)),
    }


def paired_fact(scores: np.ndarray, j: int, rng: np.random.Generator, trials: int = 400) -> float:
    """Share of paired one-sided t-tests (two marks, n = 50, probabilities) with p < 0.1."""
    hits = 0
    for _ in range(trials):
        a, b = rng.choice(len(scores), size=2, replace=False)
        imgs = rng.choice(scores.shape[1], size=50, replace=False)
        pa, pb = np.exp(scores[a, imgs, j]), np.exp(scores[b, imgs, j])
        hits += stats.ttest_rel(pa, pb, alternative="greater").pvalue < 0.1
    return hits / trials


def loo_pvalues(scores, labels, y_aux, k: int, n: int, rng, per_label: int) -> list[float]:
    """Calibrated p-values with each mark in turn as the 'true' one (clean model)."""
    pvalues = []
    verifier = build_verifier("calibrated", externals=k, n=n, level=0.01, calibration="t")
    for j, label in enumerate(labels):
        keep = np.flatnonzero(y_aux != j)
        for _ in range(per_label):
            rows = [int(r) for r in rng.choice(len(scores), size=k + 1, replace=False)]
            oracle = ArrayOracle(scores[:, keep], labels, rows)
            verifier.seed = int(rng.integers(1 << 30))
            pvalues.append(verifier.run(oracle, Question(label)).p_value)
    return pvalues


def main() -> None:
    """Train, score, measure, print, save."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=25)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).parent / "results" / "verifier_error_rates_real.json",
    )
    args = parser.parse_args()
    if not (DATA / "cifar10_subset.npz").exists():
        raise SystemExit(f"missing {DATA / 'cifar10_subset.npz'}: this benchmark needs shared/data")
    started = time.perf_counter()
    data = np.load(DATA / "cifar10_subset.npz")
    labels = [str(s) for s in data["label_names"]]
    j = labels.index(TARGET)
    x, y = data["x_train"], data["y_train"].astype(int)
    rng = np.random.default_rng(args.seed)
    aux_idx = rng.choice(np.flatnonzero(data["y_test"] != j), size=N_AUX, replace=False)
    aux, y_aux = data["x_test"][aux_idx], data["y_test"][aux_idx].astype(int)

    photos = sorted(p for p in (DATA / "mark-photos").iterdir() if p.suffix in (".png", ".jpg"))
    photo_marks = [make_mark(p.stem, "blend", seed=0, image=p) for p in photos]
    procedural = [make_mark(f"proc{s}", "procedural", seed=s) for s in range(N_PROCEDURAL)]
    proc_isotope = make_mark("proc-isotope", "procedural", seed=10_000)
    photo_isotope = next(m for m in photo_marks if "rocket" in m.name)
    photo_externals = [m for m in photo_marks if m is not photo_isotope]

    report: dict = {"alpha": ALPHA, "fraction": FRACTION, "label": TARGET, "aux": N_AUX}
    with tempfile.TemporaryDirectory() as tmp:
        models = {
            "clean": train_model(x, y, labels, Path(tmp, "clean.pt"), args.epochs, args.seed),
            "procedural_isotope": train_model(
                with_isotope(x, y, j, proc_isotope, args.seed),
                y,
                labels,
                Path(tmp, "proc.pt"),
                args.epochs,
                args.seed,
            ),
            "photo_isotope": train_model(
                with_isotope(x, y, j, photo_isotope, args.seed),
                y,
                labels,
                Path(tmp, "photo.pt"),
                args.epochs,
                args.seed,
            ),
        }
        scored = {
            name: {
                "photo": score_marks(model, aux, [photo_isotope, *photo_externals]),
                "procedural": score_marks(model, aux, [proc_isotope, *procedural]),
            }
            for name, model in models.items()
        }

    clean = scored["clean"]
    families = {}
    for family, scores in clean.items():
        ext = scores[1:]  # row 0 is the isotope mark, unseen by the clean model
        families[family] = {
            "marks": len(ext),
            "raw": spread(ext, j, centre=False),
            "centred": spread(ext, j, centre=True),
            "paired_test_rate_n50_lambda0.1": paired_fact(ext, j, rng),
        }
    report["natural_spread_clean_model"] = families

    k, n = 49, 10
    loo = loo_pvalues(clean["procedural"][1:], labels, y_aux, k, n, rng, per_label=40)
    loo_small = loo_pvalues(clean["photo"][1:], labels, y_aux, 9, 10, rng, per_label=40)
    report["clean_model_leave_one_out"] = {
        "procedural_K49_n10": {
            "audits": len(loo),
            "fpr_0.01": float(np.mean(np.asarray(loo) <= 0.01)),
            "fpr_0.05": float(np.mean(np.asarray(loo) <= 0.05)),
        },
        "photo_K9_n10": {
            "audits": len(loo_small),
            "fpr_0.01": float(np.mean(np.asarray(loo_small) <= 0.01)),
            "fpr_0.05": float(np.mean(np.asarray(loo_small) <= 0.05)),
        },
    }

    marked: dict = {}
    for name, family, kk in [
        ("procedural_isotope", "procedural", 49),
        ("photo_isotope", "photo", 13),
    ]:
        scores = scored[name][family]
        z = {}
        for centre in (False, True):
            x_j = scores[:, :, j] - (scores.mean(axis=2) if centre else 0.0)
            means = x_j.mean(axis=1)
            z["centred" if centre else "raw"] = float(
                (means[0] - means[1:].mean()) / means[1:].std(ddof=1)
            )
        pvals = []
        for seed in range(200):
            verifier = build_verifier("calibrated", externals=kk, n=10, seed=seed, calibration="t")
            pvals.append(
                verifier.run(ArrayOracle(scores, labels, list(range(kk + 1))), Question(TARGET))
            )
        detected = [r.verdict is Verdict.DETECTED for r in pvals]
        marked[name] = {
            "isotope_z_over_200_images": z,
            "calibrated_K": kk,
            "calibrated_n": 10,
            "tpr_0.01_over_image_draws": float(np.mean(detected)),
            "median_p": float(np.median([r.p_value for r in pvals])),
        }
    report["marked_models"] = marked
    report["seconds"] = time.perf_counter() - started

    print(json.dumps(report, indent=2))
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp_out = args.out.with_suffix(".tmp")
    tmp_out.write_text(json.dumps(report, indent=2))
    os.replace(tmp_out, args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
