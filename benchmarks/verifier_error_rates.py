"""False- and true-positive rates of every verifier on simulated models.

Each audit is a fresh simulated model with fresh marks (``SimulatedOracle``, the
mock's score model; defaults calibrated to measurements on real models, see
``providers.mock.MockSpec``). Clean models (no planted effect) give the
false-positive rate (FPR) with a 95% Clopper–Pearson interval; models with a planted
effect on label j give the true-positive rate (TPR), at the "strong" effect
(``STRONG_EFFECT``: ~3 natural spreads, paired p ≈ 1e-6 at n = 25, as measured on a
real model) and at two stronger ones. Also measured: heavy-tailed (Student t, 3 df)
natural mark effects, and a mock whose natural variation is label-specific only
(the worst case for the centred statistic).

Run: ``python benchmarks/verifier_error_rates.py [--audits 2000] [--workers N]``.
Prints a table; writes ``benchmarks/results/verifier_error_rates.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

from audit.verifiers.label_scan import LabelScan
from audit.verifiers.registry import build_verifier
from audit.verifiers.simulation import detection_rate
from providers.mock.classifier import STRONG_EFFECT, MockSpec

BASE = MockSpec()
HEAVY = replace(BASE, tail_df=3.0)
# Same total natural spread of log p_j, none of it shared across labels.
LABEL_ONLY = replace(
    BASE,
    label_effect_sd=(BASE.label_effect_sd**2 + BASE.disruption_sd**2) ** 0.5,
    disruption_sd=0.0,
)
TOP3 = {"statistic": "neg_rank", "top_k": 3}

# name, method, verifier options, oracle options
T49 = {"externals": 49, "n": 10, "calibration": "t"}
CONFIGS: list[tuple[str, str, dict, dict]] = [
    ("paper n250 Q5 1 ext (λ=0.1)", "paper", {}, {"n_images": 1000}),
    ("paper n250 Q5 5 ext all", "paper", {"externals": 5}, {"n_images": 1000}),
    ("calibrated K99 n5 exact (default)", "calibrated", {}, {}),
    ("calibrated K99 n5 exact, t3 tails", "calibrated", {}, {"spec": HEAVY}),
    ("calibrated K99 n5 exact, label-only", "calibrated", {}, {"spec": LABEL_ONLY}),
    ("calibrated K49 n10 t", "calibrated", T49, {}),
    ("calibrated K49 n10 t raw logp", "calibrated", {**T49, "centre": False}, {}),
    ("calibrated K49 n10 t, t3 tails", "calibrated", T49, {"spec": HEAVY}),
    ("calibrated K49 n10 t, label-only", "calibrated", T49, {"spec": LABEL_ONLY}),
    ("calibrated K19 n5 t (100 q)", "calibrated", {"externals": 19, "n": 5}, {}),
    ("sequential (default)", "sequential", {}, {}),
    ("sequential, t3 tails", "sequential", {}, {"spec": HEAVY}),
    ("rank top-3 (default, exact)", "rank", {}, TOP3),
    ("rank top-3 t-calibrated", "rank", {"externals": 49, "n": 10, "calibration": "t"}, TOP3),
    ("unpaired n50 vs clean", "unpaired", {"n": 50}, {}),
    ("scan: Holm over 10 labels", "scan", {}, {}),
]
EFFECTS = (STRONG_EFFECT, 4.0, 5.0)


def _make(method: str, options: dict):
    if method == "scan":
        return lambda: LabelScan(**options)
    return lambda: build_verifier(method, **options)


def measure(job: tuple[str, str, dict, dict, int]) -> dict:
    """FPR and TPRs of one configuration (runs in a worker process)."""
    name, method, options, oracle, audits = job
    oracle = {"n_images": 60, "n_external": 100, **oracle}
    started = time.perf_counter()
    make = _make(method, options)
    clean = detection_rate(make, audits=audits, first_seed=0, **oracle)
    marked = {
        f"{effect:g}": detection_rate(
            make, audits=audits // 2, effect=effect, first_seed=10**7, **oracle
        ).to_json()
        for effect in EFFECTS
    }
    level = make().lam if method == "paper" else make().level
    return {
        "name": name,
        "method": method,
        "options": options,
        "oracle": {k: str(v) for k, v in oracle.items()},
        "nominal_level": level,
        "fpr": clean.to_json(),
        "tpr": marked,
        "seconds": time.perf_counter() - started,
    }


def main() -> None:
    """Run every configuration, print the table, write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--audits", type=int, default=2000, help="clean audits per method")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--only", default="", help="run configurations whose name has this")
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "results" / "verifier_error_rates.json"
    )
    args = parser.parse_args()
    jobs = [(*c, args.audits) for c in CONFIGS if args.only in c[0]]
    with ProcessPoolExecutor(args.workers) as pool:
        rows = list(pool.map(measure, jobs))
    header = f"{'configuration':34s} {'level':>5s} {'FPR':>7s} {'95% CI':>17s}"
    header += "".join(f" {'TPR@' + f'{e:g}':>8s}" for e in EFFECTS) + f" {'queries':>8s}"
    print(f"{args.audits} clean and {args.audits // 2} marked audits per configuration")
    print(header)
    for row in rows:
        fpr = row["fpr"]
        low, high = fpr["ci95"]
        line = f"{row['name']:34s} {row['nominal_level']:5.2f} {fpr['rate']:7.4f} "
        line += f"[{low:.4f}, {high:.4f}]"
        line += "".join(f" {row['tpr'][f'{e:g}']['rate']:8.3f}" for e in EFFECTS)
        line += f" {row['tpr'][f'{STRONG_EFFECT:g}']['queries_median']:8.0f}"
        print(line)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".tmp")
    payload = {
        "audits_clean": args.audits,
        "audits_marked": args.audits // 2,
        "mock_spec": BASE.__dict__,
        "strong_effect": STRONG_EFFECT,
        "results": rows,
    }
    tmp.write_text(json.dumps(payload, indent=2, default=str))
    os.replace(tmp, args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
