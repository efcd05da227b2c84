"""False- and true-positive rates of every verifier on simulated models.

Each audit is a fresh simulated model with fresh marks (``SimulatedOracle``, the
mock's score model; defaults calibrated to measurements on real models, see
``providers.mock.MockSpec``). Models under the null hypothesis give the
false-positive rate (FPR) with a 95% Clopper–Pearson interval: clean models, and for
the distinguisher models that learned t_j but not t_k (its null: "at least one mark
not learned"). Models with a planted effect on label j give the true-positive rate
(TPR), at the "strong" effect (``STRONG_EFFECT``: ~3 natural spreads, paired p ≈ 1e-6
at n = 25, as measured on a real model) and at two stronger ones. Natural mark
effects come in three shapes: normal (base), heavy-tailed (Student t, 3 df) and
label-specific only (the worst case for the centred statistic).

A method claiming an exact test claims the rate h/(K + 1), h = ⌊level · (K + 1)⌋ (the
level itself for the defaults). Its check ("ok"): the number of detections is at most
the (1 − 0.001) binomial quantile at that rate, the test suite's criterion. The 95%
Clopper–Pearson interval is printed too: an exact test's rate *equals* its level, so
the interval's upper bound lies above the level by sampling error alone, and with a
dozen exact configurations one interval is expected now and then to lie wholly above.

Run: ``python benchmarks/verifier_error_rates.py [--audits 2000] [--marked 300]
[--workers N] [--only TEXT]``. Prints a table; writes
``benchmarks/results/verifier_error_rates.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from pathlib import Path

from audit.verifiers.exactness import tolerated
from audit.verifiers.protocol import Question
from audit.verifiers.registry import build_verifier
from audit.verifiers.simulation import detection_rate, largest_count_consistent
from providers.mock.classifier import STRONG_EFFECT, MockSpec

BASE = MockSpec()
HEAVY = replace(BASE, tail_df=3.0)
# Same total natural spread of log p_j, none of it shared across labels.
LABEL_ONLY = replace(
    BASE,
    label_effect_sd=(BASE.label_effect_sd**2 + BASE.disruption_sd**2) ** 0.5,
    disruption_sd=0.0,
)
SPECS = {"normal": BASE, "t3 tails": HEAVY, "label-only": LABEL_ONLY}
TOP3 = {"statistic": "neg_rank", "top_k": 3}
DISTINGUISH = ("l0", "l3")

# name, command, method, verifier options, oracle options, claim ("exact", "approx", "none")
Config = tuple[str, str, str, dict, dict, str]
CONFIGS: list[Config] = [
    *[
        (f"calibrated K99 n5 (default), {shape}", "probability", "calibrated", {}, {"spec": s},
         "exact")
        for shape, s in SPECS.items()
    ],
    *[
        (f"sequential K99 n5 (Besag–Clifford), {shape}", "probability", "sequential", {},
         {"spec": s}, "exact")
        for shape, s in SPECS.items()
    ],
    *[
        (f"rank top-3 K99 n5 (default), {shape}", "rank", "rank", {}, {**TOP3, "spec": s},
         "exact")
        for shape, s in list(SPECS.items())[:2]
    ],
    *[
        (f"rank top-3 sequential, {shape}", "rank", "sequential", {}, {**TOP3, "spec": s},
         "exact")
        for shape, s in list(SPECS.items())[:2]
    ],
    *[
        (f"scan max-T K99 n5, {shape}", "scan", "scan", {}, {"spec": s}, "exact")
        for shape, s in SPECS.items()
    ],
    *[
        (f"distinguish K99 n5, t_k unlearned, {shape}", "distinguish", "distinguish", {},
         {"spec": s, "n_external": 101}, "exact")
        for shape, s in list(SPECS.items())[:2]
    ],
    ("calibrated K99 n5 t (asked), t3 tails", "probability", "calibrated",
     {"calibration": "t"}, {"spec": HEAVY}, "approx"),
    ("calibrated K19 n5 t (asked), t3 tails", "probability", "calibrated",
     {"externals": 19, "calibration": "t"}, {"spec": HEAVY}, "approx"),
    ("distinguish paired (--externals 0), t_k unl.", "distinguish", "distinguish",
     {"externals": 0}, {}, "none"),
    ("paper n250 Q5 1 ext (λ=0.1)", "probability", "paper", {}, {"n_images": 1000}, "none"),
    ("unpaired n50 vs clean", "physical", "unpaired", {"n": 50}, {}, "none"),
]  # fmt: skip
EFFECTS = (STRONG_EFFECT, 4.0, 5.0)


def _make(command: str, method: str, options: dict):
    return lambda: build_verifier(method, command=command, **options)


def _null_options(command: str) -> dict:
    """The null model: clean, or for the distinguisher t_j learned and t_k not."""
    if command == "distinguish":
        return {"effect": 5.0, "question": Question(*DISTINGUISH)}
    return {}


def _marked_options(command: str, effect: float) -> dict:
    if command == "distinguish":
        return {
            "effect": effect,
            "planted": {1: (DISTINGUISH[1], effect)},
            "question": Question(*DISTINGUISH),
        }
    return {"effect": effect}


def measure(job: tuple[Config, int, int]) -> dict:
    """FPR and TPRs of one configuration (runs in a worker process)."""
    (name, command, method, options, oracle, claim), audits, marked_audits = job
    oracle = {"n_images": 60, "n_external": 100, **oracle}
    started = time.perf_counter()
    make = _make(command, method, options)
    verifier = make()
    null = detection_rate(make, audits=audits, first_seed=0, **_null_options(command), **oracle)
    marked = {
        f"{effect:g}": detection_rate(
            make,
            audits=marked_audits,
            first_seed=10**7,
            **_marked_options(command, effect),
            **oracle,
        ).to_json()
        for effect in EFFECTS
    }
    level = float(getattr(verifier, "level", getattr(verifier, "lam", 0.0)))
    externals = getattr(verifier, "n_external", 0)
    claimed = tolerated(externals, level) / (externals + 1) if claim == "exact" else level
    fpr = null.to_json()
    bound = largest_count_consistent(audits, claimed)
    return {
        "name": name,
        "command": command,
        "method": method,
        "claim": claim,
        "options": options,
        "oracle": {k: str(v) for k, v in oracle.items()},
        "nominal_level": level,
        "claimed_rate": claimed,
        "fpr": fpr,
        "largest_count_consistent": bound,
        "within_claim": claim != "exact" or null.detected <= bound,
        "tpr": marked,
        "seconds": time.perf_counter() - started,
    }


def main() -> None:
    """Run every configuration, print the table, write the JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--audits", type=int, default=2000, help="null audits per method")
    parser.add_argument("--marked", type=int, default=300, help="marked audits per effect")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument("--only", default="", help="run configurations whose name has this")
    parser.add_argument(
        "--out", type=Path, default=Path(__file__).parent / "results" / "verifier_error_rates.json"
    )
    args = parser.parse_args()
    started = time.perf_counter()
    jobs = [(c, args.audits, args.marked) for c in CONFIGS if args.only in c[0]]
    with ProcessPoolExecutor(args.workers) as pool:
        rows = list(pool.map(measure, jobs))
    print(f"{args.audits} null and {args.marked} marked audits (per effect) per configuration")
    header = (
        f"{'configuration':46s} {'claim':6s} {'level':>5s} {'FPR':>7s} {'95% CP interval':>17s} "
        f"{'n':>5s} {'ok':>3s}"
    )
    header += (
        "".join(f" {'TPR@' + f'{e:g}':>7s}" for e in EFFECTS) + f" {'q null':>6s} {'q@3.3':>6s}"
    )
    print(header)
    for row in rows:
        fpr = row["fpr"]
        low, high = fpr["ci95"]
        ok = "yes" if row["within_claim"] else "NO"
        if row["claim"] != "exact":
            ok = "-"
        line = (
            f"{row['name']:46s} {row['claim']:6s} {row['nominal_level']:5.2f} "
            f"{fpr['rate']:7.4f} [{low:.4f}, {high:.4f}] {fpr['audits']:5d} {ok:>3s}"
        )
        line += "".join(f" {row['tpr'][f'{e:g}']['rate']:7.3f}" for e in EFFECTS)
        strong = row["tpr"][f"{STRONG_EFFECT:g}"]
        line += f" {fpr['queries_median']:6.0f} {strong['queries_median']:6.0f}"
        print(line)
    seconds = time.perf_counter() - started
    print(f"{seconds:.0f} s with {args.workers} workers")
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".tmp")
    payload = {
        "audits_null": args.audits,
        "audits_marked_per_effect": args.marked,
        "mock_spec": BASE.__dict__,
        "strong_effect": STRONG_EFFECT,
        "seconds": seconds,
        "results": rows,
    }
    tmp.write_text(json.dumps(payload, indent=2, default=str))
    os.replace(tmp, args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
