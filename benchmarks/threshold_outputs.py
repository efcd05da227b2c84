"""What threshold output (a tagger) costs an audit, and that its false-positive rate holds.

Simulated models (``SimulatedOracle``, the mock's score model) answered three ways:

- ``full``: every label's probability; ``audit probability``'s default test on the
  centred log-probability of label j;
- ``threshold τ, confidence``: only the labels whose probability reaches τ, scored by
  label j's confidence, 0 when absent (what ``audit probability`` does with a tagger);
- ``threshold τ, rank``: minus label j's rank, (returned + 1) when absent (``audit rank``).

Every mode sees the same models (audit i is model seed i) with the same planted logit
effects on label j, so the columns compare like with like. All use K = 99 external marks
on n = 5 images and the exact rank calibration at level 0.01. The t calibration on
confidences, measured here once for contrast (4.75% false positives at a nominal 1%:
the zero-inflated confidences are far from normal), is now refused by the verifiers
(``audit.verifiers.exactness.choose``), so it has no row.

Null audits (clean models) give the false-positive rate with its 95% Clopper–Pearson
interval. An exact test's rate is h/(K + 1) (h = ⌊level · (K + 1)⌋, the level itself
here) or below it when replies tie (absent tags tie at 0, and ties count against the
true mark), so its check is that the detections are at most the (1 − 0.001) binomial
quantile at the level. Planted effects give the true-positive rate.

Run: ``OMP_NUM_THREADS=1 python benchmarks/threshold_outputs.py [--audits 2000]
[--marked 500] [--workers 2]``. Prints a table; writes
``benchmarks/results/threshold_outputs.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np

from audit.verifiers.registry import build_verifier
from audit.verifiers.simulated_oracle import SimulatedOracle
from audit.verifiers.simulation import (
    clopper_pearson,
    detection_rate,
    largest_count_consistent,
)
from providers.mock.classifier import STRONG_EFFECT

LEVEL = 0.01
EXTERNALS = 99
N_IMAGES = 20  # images each simulated model has; the verifiers use the first 5 of them
EFFECTS = (2.0, STRONG_EFFECT, 5.0)
THRESHOLDS = (0.1, 0.3)

# name -> (command, method, verifier options, oracle options, claims an exact level)
Mode = tuple[str, str, dict, dict, bool]


def _tagger(tau: float, statistic: str) -> dict:
    return {"statistic": statistic, "threshold": tau}


MODES: dict[str, Mode] = {"full, log p (centred)": ("probability", "calibrated", {}, {}, True)}
for _tau in THRESHOLDS:
    MODES[f"threshold {_tau:g}, confidence"] = (
        "probability", "calibrated", {}, _tagger(_tau, "confidence"), True
    )  # fmt: skip
    MODES[f"threshold {_tau:g}, rank"] = ("rank", "rank", {}, _tagger(_tau, "neg_rank"), True)


def _run(job: tuple[str, float, int, int]) -> dict:
    """One (mode, effect) cell over audits [first, first + count): detections and count."""
    name, effect, first, count = job
    command, method, options, oracle_options, _ = MODES[name]
    estimate = detection_rate(
        lambda: build_verifier(
            method, command=command, externals=EXTERNALS, level=LEVEL, **options
        ),
        audits=count,
        effect=effect,
        first_seed=first,
        n_images=N_IMAGES,
        n_external=EXTERNALS,
        **oracle_options,
    )
    return {"name": name, "effect": effect, "detected": estimate.detected, "audits": count}


def absent_share(tau: float, audits: int = 50) -> float:
    """Share of (mark, image) replies of clean models in which label j is absent."""
    shares = []
    for seed in range(audits):
        oracle = SimulatedOracle(
            statistic="confidence",
            threshold=tau,
            seed=seed,
            n_images=N_IMAGES,
            n_external=EXTERNALS,
        )
        scores = oracle.query(range(EXTERNALS + 1), range(5))[:, :, 0]
        shares.append(float((scores == 0.0).mean()))
    return float(np.mean(shares))


def _cells(audits: int, marked: int, chunk: int) -> list[tuple[str, float, int, int]]:
    jobs = []
    for name in MODES:
        for effect, count in ((0.0, audits), *((e, marked) for e in EFFECTS)):
            jobs += [(name, effect, s, min(chunk, count - s)) for s in range(0, count, chunk)]
    return jobs


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; print a table; write the JSON results."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--audits", type=int, default=2000, help="null audits per mode")
    parser.add_argument("--marked", type=int, default=500, help="audits per planted effect")
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument(
        "--out", type=Path, default=Path("benchmarks/results/threshold_outputs.json")
    )
    args = parser.parse_args(argv)
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    started = time.perf_counter()
    jobs = _cells(args.audits, args.marked, chunk=100)
    totals: dict[tuple[str, float], list[int]] = {}
    with ProcessPoolExecutor(args.workers) as pool:
        for done in pool.map(_run, jobs):
            cell = totals.setdefault((done["name"], done["effect"]), [0, 0])
            cell[0] += done["detected"]
            cell[1] += done["audits"]
    allowed = largest_count_consistent(args.audits, LEVEL)
    rows = []
    for name, (_, _, _, _, exact) in MODES.items():
        fp, n0 = totals[(name, 0.0)]
        low, high = clopper_pearson(fp, n0)
        row = {
            "mode": name,
            "claims_exact": exact,
            "null_audits": n0,
            "fpr": fp / n0,
            "fpr_ci95": [low, high],
            "fpr_ci95_upper_at_most_level": high <= LEVEL,
            "fpr_consistent_with_level": fp <= allowed,
            "tpr": {},
        }
        for effect in EFFECTS:
            tp, n1 = totals[(name, effect)]
            row["tpr"][f"{effect:g}"] = {
                "audits": n1,
                "rate": tp / n1,
                "ci95": list(clopper_pearson(tp, n1)),
            }
        rows.append(row)
    seconds = time.perf_counter() - started
    result = {
        "settings": {
            "audits": args.audits,
            "marked": args.marked,
            "level": LEVEL,
            "externals": EXTERNALS,
            "n": 5,
            "effects": list(EFFECTS),
            "largest_null_count_consistent_with_level": allowed,
        },
        "absent_share_of_label_j_on_clean_models": {
            f"{tau:g}": absent_share(tau) for tau in THRESHOLDS
        },
        "rows": rows,
        "seconds": round(seconds, 1),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    effects = "".join(f"{'TPR @' + format(e, 'g'):>22}" for e in EFFECTS)
    print(f"{'mode':<42}{'FPR [95% CI]':>24}{effects}")
    for row in rows:
        low, high = row["fpr_ci95"]
        fpr = f"{row['fpr']:.4f} [{low:.4f}, {high:.4f}]"
        tprs = "".join(
            f"{c['rate']:>8.3f} [{c['ci95'][0]:.2f}, {c['ci95'][1]:.2f}]"
            for c in row["tpr"].values()
        )
        print(f"{row['mode']:<42}{fpr:>24}{tprs}")
    for tau, share in result["absent_share_of_label_j_on_clean_models"].items():
        print(f"label j absent from clean replies at threshold {tau}: {share:.1%}")
    print(
        f"{args.audits} null and {args.marked} marked audits per mode and effect; "
        f"exact modes consistent with level {LEVEL} iff null detections ≤ {allowed}; "
        f"{seconds:.0f} s; wrote {args.out}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
