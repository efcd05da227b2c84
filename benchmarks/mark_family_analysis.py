"""Family transfer, leads and exact-test error rates from ``mark_family_experiments`` scores.

Reads the score files (or packed bundles) under ``benchmarks/results/mark_family`` and,
per dataset and family, reports:

- natural spread σ: SD over the pool's marks of the per-mark mean statistic (centred
  log p(cat) over all auxiliary images) on clean models;
- family transfer: on a model marked with pool member k, the other members' mean
  statistic minus their mean on the clean models, in σ (clean models against each
  other give the null range);
- lead: the isotope's z among all other pool members (all images), raw, per-image
  standardized, surrogate-adjusted (leave-one-out residuals, ``audit.verifiers.surrogate``);
- audits: random draws of n auxiliary images and K externals (the isotope for marked
  models; a random pool member for clean ones, which never saw any), p-value = rank
  (1 + #{externals ≥ true}) / (K + 1); TPR on marked and FPR on clean models at 0.01
  with Clopper-Pearson intervals over audits, and per-model detection rates.

H0 of every audit: the true mark is exchangeable with the externals (drawn from the
same pool, unseen by the model). The audits of one model share that model, so the
intervals over audits describe these models; the spread across models is in the
per-model rates.

Run: ``python benchmarks/mark_family_analysis.py [--audits 400]`` (a minute or two).
Writes ``benchmarks/results/mark_family_analysis.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
from collections import defaultdict
from collections.abc import Iterable
from pathlib import Path

import numpy as np
from scipy import stats

from audit.verifiers.surrogate import standardize_per_image, surrogate_adjust

HERE = Path(__file__).resolve().parent
RESULTS = HERE / "results" / "mark_family"
LEVEL = 0.01
DECOY_BASE = 490  # as in mark_family_experiments: pool members 490-499 are decoys
BUDGETS = {500: [(5, 99), (4, 124), (2, 244)], 200: [(2, 99), (1, 199)]}


def clopper_pearson(hits: int, total: int, confidence: float = 0.95) -> tuple[float, float]:
    """Exact two-sided binomial interval for a rate of ``hits`` out of ``total``."""
    if total == 0:
        return (0.0, 1.0)
    tail = (1 - confidence) / 2
    lo = 0.0 if hits == 0 else float(stats.beta.ppf(tail, hits, total - hits + 1))
    hi = 1.0 if hits == total else float(stats.beta.ppf(1 - tail, hits + 1, total - hits))
    return lo, hi


def load_scores(results: Path) -> dict[str, dict[str, dict]]:
    """dataset -> model name -> {family: float (pool, aux) statistics, "meta": dict}."""
    out: dict[str, dict[str, dict]] = defaultdict(dict)

    def put(stem: str, key: str, value: np.ndarray) -> None:
        dataset, name = stem.split("_", 1)
        entry = out[dataset].setdefault(name, {})
        entry[key] = json.loads(str(value)) if key == "meta" else value.astype(np.float64) / 1000

    for path in sorted(results.glob("scores_*.npz")):
        with np.load(path) as d:
            for key in d.files:
                put(path.stem.removeprefix("scores_"), key, d[key])
    for path in sorted(results.glob("packed_*.npz")):
        with np.load(path) as d:
            for full in d.files:
                stem, key = full.split("|")
                dataset, name = stem.split("_", 1)
                if name not in out.get(dataset, {}) or key not in out[dataset][name]:
                    put(stem, key, d[full])
    return out


def _role(name: str) -> tuple[str, str | None, int | None]:
    m = re.fullmatch(r"(clean|surr_small|surr_half)(\d+)", name)
    if m:
        return m.group(1), None, int(m.group(2))
    m = re.fullmatch(r"decoy_(.+?)(\d+)", name)
    if m:
        return "surr_decoy", m.group(1), int(m.group(2))
    m = re.fullmatch(r"(.+?)(\d+)", name)
    assert m, name
    return "marked", m.group(1), int(m.group(2))


def _z(values: np.ndarray, row: int) -> float:
    others = np.delete(values, row)
    return float((values[row] - others.mean()) / others.std(ddof=1))


def _statistic(target: np.ndarray, surrogates: list[np.ndarray], standardize: bool) -> np.ndarray:
    """Per-mark statistic of an audit from (K+1, n) matrices: target and surrogates.

    Each surrogate contributes one regressor (its per-mark mean on the same images).
    """
    a = standardize_per_image(target) if standardize else target
    stat = a.mean(axis=1)
    if not surrogates:
        return stat
    regressors = np.column_stack(
        [(standardize_per_image(s) if standardize else s).mean(axis=1) for s in surrogates]
    )
    return surrogate_adjust(stat, regressors, method="loo")


def audit_pvalues(
    target: np.ndarray,
    surrogates: list[np.ndarray],
    true_rows: np.ndarray,
    usable: np.ndarray,
    *,
    n: int,
    k: int,
    audits: int,
    standardize: bool,
    rng: np.random.Generator,
) -> np.ndarray:
    """Rank p-values of ``audits`` random audits (true mark drawn from ``true_rows``,
    externals from the other ``usable`` rows)."""
    images = target.shape[1]
    pvalues = np.empty(audits)
    for a in range(audits):
        true = int(rng.choice(true_rows))
        others = usable[usable != true]
        rows = np.concatenate([[true], rng.choice(others, size=k, replace=False)])
        cols = rng.choice(images, size=n, replace=False)
        pick = np.ix_(rows, cols)
        stat = _statistic(target[pick], [s[pick] for s in surrogates], standardize)
        pvalues[a] = (1 + np.sum(stat[1:] >= stat[0])) / (k + 1)
    return pvalues


def _rate(pvalues: list[np.ndarray]) -> dict:
    flat = np.concatenate(pvalues) if pvalues else np.zeros(0)
    hits = int(np.sum(flat <= LEVEL))
    lo, hi = clopper_pearson(hits, len(flat))
    return {
        "rate": hits / max(1, len(flat)),
        "ci95": [round(lo, 4), round(hi, 4)],
        "audits": len(flat),
        "models": len(pvalues),
        "per_model": [round(float(np.mean(p <= LEVEL)), 3) for p in pvalues],
    }


# Variant -> (surrogate kinds, one regressor each; per-image standardization).
VARIANTS: dict[str, tuple[tuple[str, ...], bool]] = {
    "raw": ((), False),
    "std": ((), True),
    "surr_small": (("surr_small",), False),
    "surr_half": (("surr_half",), False),
    "surr_decoy": (("surr_decoy",), False),
    "surr_decoy+half": (("surr_decoy", "surr_half"), False),
    "surr_clean_other": (("clean_other",), False),
    "surr_marked_other": (("marked_other",), False),
    "surr_marked_other+half": (("marked_other", "surr_half"), False),
}


def analyse_family(
    models: dict,
    family: str,
    audits: int,
    rng: np.random.Generator,
    nk: list,
    variants: dict[str, tuple[tuple[str, ...], bool]] = VARIANTS,
) -> dict:
    """Everything reported for one dataset × family."""
    roles = {name: _role(name) for name in models if family in models[name]}
    clean = sorted(n for n, r in roles.items() if r[0] == "clean")
    marked = sorted(n for n, r in roles.items() if r[0] == "marked" and r[1] == family)
    pools = {
        kind: sorted(n for n, r in roles.items() if r[0] == kind)
        for kind in ("surr_small", "surr_half")
    }
    pools["surr_decoy"] = sorted(
        n for n, r in roles.items() if r[0] == "surr_decoy" and r[1] == family
    )
    if not clean:
        return {}
    marks, images = models[clean[0]][family].shape
    # Decoy pool members are never a true mark or an external.
    usable = np.arange(min(marks, DECOY_BASE))
    means = {name: models[name][family].mean(axis=1) for name in roles}
    sigma = float(np.mean([means[c][usable].std(ddof=1) for c in clean]))
    clean_mean = np.mean([means[c] for c in clean], axis=0)

    def surrogates_for(name: str, kinds: tuple[str, ...]) -> tuple[list[np.ndarray], np.ndarray]:
        """The surrogates' matrices for auditing ``name``, and the rows left usable."""
        out, rows = [], usable
        for kind in kinds:
            if kind == "clean_other":  # same data, other seed: an optimistic surrogate
                pool = [c for c in clean if c != name]
            elif kind == "marked_other":
                # Same data, another member of the family learned: an optimistic decoy.
                # Its isotope is then a decoy, no longer a true mark or an external.
                pool = [m for m in marked if m != name]
                rows = np.setdiff1d(rows, [roles[m][2] for m in pool])
            else:
                pool = pools[kind]
            if not pool:
                return [], rows[:0]
            out.append(np.mean([models[p][family] for p in pool], axis=0))
        return out, rows

    report: dict = {"sigma": sigma, "clean_models": clean, "marked_models": marked}
    report["surrogates"] = {k: v for k, v in pools.items() if v}
    corr = {}
    for kind in ("surr_small", "surr_half", "surr_decoy", "clean_other"):
        rs = []
        for c in clean:
            s, rows = surrogates_for(c, (kind,))
            if s:
                rs.append(float(np.corrcoef(means[c][rows], s[0].mean(axis=1)[rows])[0, 1]))
        corr[kind] = [round(r, 3) for r in rs]
    report["clean_vs_surrogate_r"] = corr
    transfer = {}
    for name in marked:
        keep = usable[usable != roles[name][2]]
        transfer[name] = float((means[name][keep].mean() - clean_mean[keep].mean()) / sigma)
    null = [
        float(
            (
                means[c][usable].mean()
                - np.mean([means[o] for o in clean if o != c], axis=0)[usable].mean()
            )
            / sigma
        )
        for c in clean
        if len(clean) > 1
    ]
    report["transfer_sigma"] = {k: round(v, 3) for k, v in transfer.items()}
    report["transfer_null_clean_sigma"] = [round(v, 3) for v in null]
    leads: dict = {}
    for name in marked:
        leads[name] = {}
        for variant, (kinds, standardize) in variants.items():
            s, rows = surrogates_for(name, kinds)
            if kinds and not s:
                continue
            row = int(np.flatnonzero(rows == roles[name][2])[0])
            t = models[name][family][rows]
            leads[name][variant] = round(
                _z(_statistic(t, [x[rows] for x in s], standardize), row), 2
            )
    report["lead_z_all_images"] = leads
    audit_report: dict = {}
    for n, k in nk:
        if n > images:
            continue
        for variant, (kinds, standardize) in variants.items():
            label = f"n{n}_K{k}_{variant}"
            tp: list[np.ndarray] = []
            fp: list[np.ndarray] = []
            for name, truths in [(m, None) for m in marked] + [(c, "any") for c in clean]:
                s, rows = surrogates_for(name, kinds)
                if (kinds and not s) or k >= len(rows):
                    continue
                true_rows = rows if truths == "any" else np.array([roles[name][2]])
                pvalues = audit_pvalues(
                    models[name][family],
                    s,
                    true_rows,
                    rows,
                    n=n,
                    k=k,
                    audits=audits,
                    standardize=standardize,
                    rng=rng,
                )
                (fp if truths == "any" else tp).append(pvalues)
            if tp or fp:
                audit_report[label] = {"queries": n * (k + 1), "tpr": _rate(tp), "fpr": _rate(fp)}
    report["audits"] = audit_report
    return report


def _table(dataset: str, fam: dict, configs: list[str], variants: Iterable[str]) -> str:
    """Markdown: one row per family × variant, rates for each (n, K) config."""
    head = " | ".join(f"TPR {c} | FPR {c}" for c in configs)
    lines = [
        f"## {dataset} (level {LEVEL}; rates: audits pooled over models, CP 95 %, (models))",
        f"| family | variant | transfer σ (per model) | lead z median [min, max] | {head} |",
        "| --- | --- | --- | --- | " + " | ".join("--- | ---" for _ in configs) + " |",
    ]
    for family, r in fam.items():
        if not r:
            continue
        tr = list(r["transfer_sigma"].values())
        transfer = f"{np.mean(tr):.2f} ({', '.join(f'{v:.1f}' for v in tr)})" if tr else "-"
        for variant in variants:
            vals = [v[variant] for v in r["lead_z_all_images"].values() if variant in v]
            if not vals:
                continue
            cells = []
            for c in configs:
                entry = r["audits"].get(f"{c}_{variant}")
                for which in ("tpr", "fpr"):
                    if not entry or not entry[which]["audits"]:
                        cells.append("-")
                        continue
                    e = entry[which]
                    cells.append(
                        f"{e['rate']:.3f} [{e['ci95'][0]:.3f}, {e['ci95'][1]:.3f}] ({e['models']})"
                    )
            lead = f"{np.median(vals):.1f} [{min(vals):.1f}, {max(vals):.1f}]"
            lines.append(
                f"| {family} | {variant} | {transfer if variant == 'raw' else ''} | {lead} | "
                + " | ".join(cells)
                + " |"
            )
    return "\n".join(lines)


def main() -> None:
    """Analyse, print tables, save JSON."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--results", type=Path, default=RESULTS)
    parser.add_argument("--audits", type=int, default=400, help="per model and setting")
    parser.add_argument("--budgets", default="500", help="query budgets: 500, 200 or 500,200")
    parser.add_argument("--nk", default="", help="custom n:K pairs, e.g. 5:99,1:499")
    parser.add_argument("--families", default="")
    parser.add_argument("--variants", default="", help=f"subset of {', '.join(VARIANTS)}")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=HERE / "results" / "mark_family_analysis.json")
    args = parser.parse_args()
    scores = load_scores(args.results)
    nk = [pair for b in args.budgets.split(",") for pair in BUDGETS[int(b)]]
    if args.nk:
        nk = [(int(a), int(b)) for a, b in (p.split(":") for p in args.nk.split(","))]
    rng = np.random.default_rng(args.seed)
    report: dict = {"level": LEVEL, "audits_per_model": args.audits, "datasets": {}}
    for dataset, models in sorted(scores.items()):
        families = sorted({f for m in models.values() for f in m if f not in ("meta", "_unmarked")})
        if args.families:
            families = [f for f in families if f in args.families.split(",")]
        variants = {
            v: VARIANTS[v] for v in (args.variants.split(",") if args.variants else VARIANTS)
        }
        fam = {f: analyse_family(models, f, args.audits, rng, nk, variants) for f in families}
        report["datasets"][dataset] = {
            "models": {n: m.get("meta", {}) for n, m in models.items()},
            "families": fam,
        }
        configs = [f"n{n}_K{k}" for n, k in nk if (n, k) in ((5, 99), (2, 99))] or [
            f"n{n}_K{k}" for n, k in nk[:1]
        ]
        print(_table(dataset, fam, configs, variants), flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    tmp = args.out.with_suffix(".tmp")
    tmp.write_text(json.dumps(report, indent=1))
    os.replace(tmp, args.out)
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
