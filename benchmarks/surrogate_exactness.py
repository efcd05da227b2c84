"""Exactness (and power) of the surrogate-adjusted rank test, by simulation.

H0 of every null audit: the true mark is one more i.i.d. draw of the family and the
audited model learned none of the K + 1 marks. The rank p-value
(1 + #{externals ≥ true}) / (K + 1) of the adjusted statistics
(``audit.verifiers.surrogate``) must then satisfy P(p ≤ 0.01) ≤ 0.01 (= 0.01 exactly
with K = 99 and no ties). Each scenario runs ``--audits`` null audits (K = 99, n = 5)
and reports the false-positive rate with a Clopper-Pearson interval, then the same
number of audits with a planted isotope for the power of each statistic.

Scenarios:

- ``gauss``: natural mark effects normal, surrogate correlated at r ≈ 0.8, per-image
  noise; the clean case.
- ``heavy_transfer``: natural effects Student t (3 df), images with different
  sensitivity, and the audited model has learned *another* member of the family (a
  family shift the clean surrogate cannot see; a decoy surrogate sees part of it).
- ``useless``: a surrogate that knows nothing (independent noise): still exact.
- ``mock``: the project's simulated score model (``SimulatedOracle``: log-softmax of
  logits with label effects, disruption and heavy tails); target and surrogate are two
  oracles with different seeds, so the surrogate is uninformative but realistic in form.

Run: ``python benchmarks/surrogate_exactness.py [--audits 5000]`` (~1 min on 2 cores).
Writes ``benchmarks/results/surrogate_exactness.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
from scipy import stats

from audit.verifiers.surrogate import adjusted_statistics

K = 99
N = 5
LEVEL = 0.01
Draw = Callable[[np.random.Generator, float], tuple[np.ndarray, list[np.ndarray]]]


def clopper_pearson(hits: int, total: int) -> tuple[float, float]:
    """Exact two-sided 95 % interval for a binomial rate."""
    lo = 0.0 if hits == 0 else float(stats.beta.ppf(0.025, hits, total - hits + 1))
    hi = 1.0 if hits == total else float(stats.beta.ppf(0.975, hits + 1, total - hits))
    return lo, hi


def gauss(rng: np.random.Generator, effect: float) -> tuple[np.ndarray, list[np.ndarray]]:
    """Normal natural effects; a surrogate that predicts them at r ≈ 0.8."""
    natural = rng.standard_normal(K + 1)
    image = rng.standard_normal(N)
    target = natural[:, None] + image + 0.3 * rng.standard_normal((K + 1, N))
    target[0] += effect
    surrogate = 0.8 * natural[:, None] + image + 0.6 * rng.standard_normal((K + 1, N))
    return target, [surrogate]


def heavy_transfer(rng: np.random.Generator, effect: float) -> tuple[np.ndarray, list[np.ndarray]]:
    """Heavy tails, image-dependent sensitivity, family transfer on the audited model."""
    natural = rng.standard_t(3, K + 1)
    typical = rng.standard_normal(K + 1)  # how much a member looks like "the family"
    sensitivity = rng.uniform(0.3, 2.0, N)
    target = (natural + 1.5 * typical)[:, None] * sensitivity + 0.4 * rng.standard_t(4, (K + 1, N))
    target[0] += effect * sensitivity
    clean = 0.8 * natural[:, None] * sensitivity + 0.7 * rng.standard_normal((K + 1, N))
    decoy = (0.8 * natural + 1.0 * typical)[:, None] + 0.7 * rng.standard_normal((K + 1, N))
    return target, [clean, decoy]


def useless(rng: np.random.Generator, effect: float) -> tuple[np.ndarray, list[np.ndarray]]:
    """A surrogate of pure noise."""
    target, _ = gauss(rng, effect)
    return target, [rng.standard_normal((K + 1, N))]


def mock(rng: np.random.Generator, effect: float) -> tuple[np.ndarray, list[np.ndarray]]:
    """Two ``SimulatedOracle`` models; statistic = centred log-probability of label j."""
    from audit.verifiers.simulated_oracle import SimulatedOracle

    seeds = rng.integers(0, 2**31, 2)
    target = SimulatedOracle(n_images=N, n_external=K, effect=effect, seed=int(seeds[0]))
    surrogate = SimulatedOracle(n_images=N, n_external=K, seed=int(seeds[1]))
    marks, images = list(range(K + 1)), list(range(N))

    def centred(oracle: SimulatedOracle) -> np.ndarray:
        scores = oracle.query(marks, images)
        return scores[:, :, 0] - scores.mean(axis=2)

    return centred(target), [centred(surrogate)]


SCENARIOS: dict[str, tuple[Draw, float]] = {
    # scenario -> (draw, planted effect for the power run, in natural spreads)
    "gauss": (gauss, 3.0),
    "heavy_transfer": (heavy_transfer, 4.0),
    "useless": (useless, 3.0),
    "mock": (mock, 1.0),
}


def statistics(target: np.ndarray, surrogates: list[np.ndarray]) -> dict[str, np.ndarray]:
    """Every statistic compared: raw, per-image standardized, adjusted (one or all)."""
    out = {
        "raw": adjusted_statistics(target),
        "std": adjusted_statistics(target, standardize=True),
    }
    for method in ("ols", "loo"):
        out[f"surrogate_{method}"] = adjusted_statistics(target, surrogates[0], method=method)
    out["std+surrogate_loo"] = adjusted_statistics(
        target, surrogates[0], standardize=True, method="loo"
    )
    if len(surrogates) > 1:
        regressors = np.column_stack([s.mean(axis=1) for s in surrogates])
        from audit.verifiers.surrogate import surrogate_adjust

        out["all_surrogates_loo"] = surrogate_adjust(target.mean(axis=1), regressors, method="loo")
    return out


def run_scenario(name: str, audits: int, rng: np.random.Generator) -> dict:
    """FPR under H0 and TPR with the planted effect, for every statistic."""
    draw, effect = SCENARIOS[name]
    report: dict = {}
    for phase, size in (("null", 0.0), ("planted", effect)):
        hits: dict[str, int] = {}
        for _ in range(audits):
            target, surrogates = draw(rng, size)
            for stat_name, stat in statistics(target, surrogates).items():
                p = (1 + np.sum(stat[1:] >= stat[0])) / (K + 1)
                hits[stat_name] = hits.get(stat_name, 0) + int(p <= LEVEL)
        for stat_name, count in hits.items():
            lo, hi = clopper_pearson(count, audits)
            key = "fpr" if phase == "null" else "tpr"
            report.setdefault(stat_name, {})[key] = {
                "rate": count / audits,
                "ci95": [round(lo, 4), round(hi, 4)],
                "audits": audits,
            }
    return report


def main() -> None:
    """Run every scenario, print a table, save JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--audits", type=int, default=5000)
    parser.add_argument("--scenarios", default=",".join(SCENARIOS))
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--out",
        type=Path,
        default=Path(__file__).parent / "results" / "surrogate_exactness.json",
    )
    args = parser.parse_args()
    rng = np.random.default_rng(args.seed)
    started = time.perf_counter()
    report: dict = {"K": K, "n": N, "level": LEVEL, "scenarios": {}}
    print(f"| scenario | statistic | FPR at {LEVEL} [95 % CI] | TPR (planted) |")
    print("| --- | --- | --- | --- |")
    for name in args.scenarios.split(","):
        result = run_scenario(name, args.audits, rng)
        report["scenarios"][name] = result
        for stat_name, r in result.items():
            f, t = r["fpr"], r["tpr"]
            print(
                f"| {name} | {stat_name} | {f['rate']:.4f} [{f['ci95'][0]:.4f}, "
                f"{f['ci95'][1]:.4f}] | {t['rate']:.3f} |",
                flush=True,
            )
    report["seconds"] = time.perf_counter() - started
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".tmp")
    tmp.write_text(json.dumps(report, indent=1))
    os.replace(tmp, args.out)
    print(f"wrote {args.out} ({report['seconds']:.0f} s, {args.audits} audits per phase)")


if __name__ == "__main__":
    main()
