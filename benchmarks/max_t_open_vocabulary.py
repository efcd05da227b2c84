"""The max-T label scan on threshold output: plain standardization against the floor.

Simulated models (``SimulatedOracle``, the mock's score model) with 10 labels (the
mock's default) and 100 (a tagger's open vocabulary, scaled down), answered in full, as
threshold output scored by confidence (τ = 0.1, 0.3) and by rank (τ = 0.1). Each audit
scans every label with K = 99 external marks on n = 5 images at level 0.01, and is
decided two ways on the same replies:

- ``plain``: each label's column divided by its own spread across the marks, maxima
  compared exactly (the scan before the floor);
- ``floor``: ``audit.verifiers.max_t`` — the root mean square of the columns' spreads
  added to each column's spread in quadrature, ties within 1e-9 counted against the
  true mark.

Null audits (clean models) give the false-positive rate; planted effects on label l0
the true-positive rate. Run: ``OMP_NUM_THREADS=1 python benchmarks/max_t_open_vocabulary.py
[--null 2000] [--marked 500]`` (about 10 minutes on one core). Prints one JSON line per
cell; writes ``benchmarks/results/max_t_open_vocabulary.json``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

from audit.queries.oracle import TRUE_MARK
from audit.verifiers.mark_statistic import MarkStatistic
from audit.verifiers.max_t import max_t
from audit.verifiers.simulated_oracle import SimulatedOracle
from audit.verifiers.simulation import largest_count_consistent

K = 99
N = 5
LEVEL = 0.01
MODES = {
    "full": {"statistic": "log_prob"},
    "threshold 0.1, confidence": {"statistic": "confidence", "threshold": 0.1},
    "threshold 0.3, confidence": {"statistic": "confidence", "threshold": 0.3},
    "threshold 0.1, rank": {"statistic": "neg_rank", "threshold": 0.1},
}
RESULTS = Path(__file__).parent / "results" / "max_t_open_vocabulary.json"


def plain_p(statistics: np.ndarray) -> float:
    """Max-T with each column divided by its own spread, maxima compared exactly."""
    s = np.asarray(statistics, dtype=float)
    spread = s.std(axis=0, ddof=1, keepdims=True)
    z = np.where(spread > 0, (s - s.mean(axis=0)) / np.where(spread > 0, spread, 1.0), 0.0)
    maxima = z.max(axis=1)
    return float((1 + np.sum(maxima[1:] >= maxima[0])) / len(maxima))


def cell(mode: str, labels: int, effect: float, audits: int, first: int) -> dict:
    """Detections of both ways over ``audits`` simulated models."""
    plain = floor = 0
    for i in range(audits):
        oracle = SimulatedOracle(
            effect=effect, seed=first + i, n_external=K, n_images=20, n_labels=labels,
            **MODES[mode],
        )  # fmt: skip
        scores = oracle.query([TRUE_MARK, *range(1, K + 1)], np.arange(N))
        means = MarkStatistic().values(scores, oracle.statistic).mean(axis=1)
        plain += plain_p(means) <= LEVEL + 1e-12
        floor += max_t(means).p_value <= LEVEL + 1e-12
    return {"mode": mode, "labels": labels, "effect": effect, "audits": audits,
            "plain": int(plain), "floor": int(floor)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--null", type=int, default=2000, help="clean models per cell")
    parser.add_argument("--marked", type=int, default=500, help="marked models per cell")
    args = parser.parse_args()
    rows = []
    for labels in (10, 100):
        for mode in MODES:
            rows.append(cell(mode, labels, 0.0, args.null, 100_000))
            print(json.dumps(rows[-1]), flush=True)
            for effect in (3.3, 5.0):
                rows.append(cell(mode, labels, effect, args.marked, 0))
                print(json.dumps(rows[-1]), flush=True)
    settings = {
        "externals": K, "n": N, "level": LEVEL, "null": args.null, "marked": args.marked,
        "largest_null_count_consistent_with_level": largest_count_consistent(args.null, LEVEL),
    }  # fmt: skip
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"settings": settings, "rows": rows}, indent=1) + "\n")


if __name__ == "__main__":
    main()
