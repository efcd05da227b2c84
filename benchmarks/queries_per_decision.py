"""Queries to a decision: the exact sequential test against the fixed ones.

For each design below, fresh simulated models (``SimulatedOracle``) are audited:
clean models give the false-positive rate and the distinct (mark, image) queries a
clean audit costs; models with a planted effect on label j (``STRONG_EFFECT`` ≈ a
strongly learned mark on real models, and stronger ones) give the true-positive rate
and the queries a detection costs. The sequential (Besag–Clifford) test makes the
same decisions as the fixed K = 99 rank test on the same images, so its rates match
``calibrated``'s and only the queries differ: a clean model usually stops at the
first batch (the true mark and 10 externals on 5 images: 55 queries), a learned mark
needs every external (500). The paper's Algorithm 1 costs a fixed 2,500 queries
(n = 250, Q = 5, two marks) and has no false-positive control.

Run: ``python benchmarks/queries_per_decision.py [--clean 1000] [--marked 300]
[--workers N]``. Prints a table; writes ``benchmarks/results/queries_per_decision.json``.
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
from audit.verifiers.simulation import detection_rate
from providers.mock.classifier import STRONG_EFFECT

EFFECTS = (STRONG_EFFECT, 4.0, 5.0, 6.0)

# name, method, verifier options
DESIGNS: list[tuple[str, str, dict]] = [
    ("paper (n=250, Q=5, 1 external)", "paper", {}),
    ("calibrated K99 n5 (fixed)", "calibrated", {}),
    ("sequential K99 n5 batch 10 (default)", "sequential", {}),
    ("sequential K99 n5 batch 5", "sequential", {"batch": 5}),
    ("sequential K99 n5 batch 1", "sequential", {"batch": 1}),
    ("calibrated K99 n10 (fixed)", "calibrated", {"n": 10}),
    ("sequential K99 n10 batch 10", "sequential", {"n": 10}),
]


def measure(job: tuple[str, str, dict, int, int]) -> dict:
    """FPR and clean queries; per effect, TPR and queries (in a worker)."""
    name, method, options, n_clean, n_marked = job
    started = time.perf_counter()
    oracle = {"n_images": 1000 if method == "paper" else 60, "n_external": 100}

    def make():
        return build_verifier(method, **options)

    clean = detection_rate(make, audits=n_clean, first_seed=0, **oracle)
    marked = {
        f"{e:g}": detection_rate(make, audits=n_marked, effect=e, first_seed=10**7, **oracle)
        for e in EFFECTS
    }
    clean_q = np.asarray(clean.queries)
    return {
        "design": name,
        "method": method,
        "options": {k: str(v) for k, v in options.items()},
        "clean": {
            **clean.to_json(),
            "queries_mean": float(clean_q.mean()),
            "share_at_first_step": float(np.mean(clean_q == clean_q.min())),
        },
        "marked": {
            e: {
                **r.to_json(),
                "queries_median_detected": float(
                    np.median([q for q, d in zip(r.queries, r.verdicts, strict=True) if d])
                )
                if any(r.verdicts)
                else None,
            }
            for e, r in marked.items()
        },
        "seconds": time.perf_counter() - started,
    }


def main() -> None:
    """Measure every design, print the table, save the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clean", type=int, default=1000, help="clean audits per design")
    parser.add_argument("--marked", type=int, default=300, help="marked audits per effect")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "results" / "queries_per_decision.json"
    )
    args = parser.parse_args()
    started = time.perf_counter()
    jobs = [(name, method, options, args.clean, args.marked) for name, method, options in DESIGNS]
    with ProcessPoolExecutor(args.workers) as pool:
        rows = list(pool.map(measure, jobs))
    print(f"{args.clean} clean / {args.marked} marked audits (per effect) per design")
    print(
        f"{'design':38s} {'FPR':>6s} {'clean q: median':>15s} {'mean':>6s} {'p95':>5s} |"
        + "".join(f" {'TPR@' + f'{e:g}':>7s} {'q det':>5s}" for e in EFFECTS)
    )
    for row in rows:
        clean = row["clean"]
        line = (
            f"{row['design']:38s} {clean['rate']:6.4f} {clean['queries_median']:15.0f} "
            f"{clean['queries_mean']:6.0f} {clean['queries_p95']:5.0f} |"
        )
        for e in EFFECTS:
            marked = row["marked"][f"{e:g}"]
            q = marked["queries_median_detected"]
            line += f" {marked['rate']:7.3f} {q if q is None else round(q):>5}"
        print(line)
    seconds = time.perf_counter() - started
    print(f"{seconds:.0f} s with {args.workers} workers")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".tmp")
    payload = {
        "audits": {"clean": args.clean, "marked_per_effect": args.marked},
        "strong_effect": STRONG_EFFECT,
        "seconds": seconds,
        "designs": rows,
    }
    tmp.write_text(json.dumps(payload, indent=2))
    os.replace(tmp, args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
