"""CLI commands: ``isotope audit probability|rank|scan|distinguish``.

Exit codes as ``audit.exit_codes.ExitCode``: 0 finished (any verdict), 1 provider
failure, 2 bad input, 3 budget spent before a decision. Results go to stdout (one JSON
object with ``--json``); progress and errors to stderr. Each command accepts only the
methods the verifier registry lists for it.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from audit.cli.common import (
    EndpointUrlOption,
    JsonOption,
    ProviderOptionOption,
    RegionOption,
    ReportOption,
    StoreOption,
    WorkspaceOption,
    build_provider,
    query_progress,
    stderr,
)
from audit.cli.guard import UsageError, guarded
from audit.queries.provider_oracle import LOG_PROB, NEG_RANK
from audit.verifiers import registry as verifiers
from marks.store import MarkStore
from providers import registry as providers
from providers.spec import ProviderKind

if TYPE_CHECKING:
    from audit.runner.outcome import AuditOutcome
    from audit.runner.plan import AuditPlan

DEFAULT_ALPHA = 0.4

audit_app = typer.Typer(
    help="Ask a model whether it learned your mark (query its API, run a statistical test).",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.add_typer(audit_app, name="audit")


# The methods each command accepts, as typer choices: a wrong one is a usage error.
ProbabilityMethod = StrEnum(  # type: ignore[misc]
    "ProbabilityMethod", {name: name for name in verifiers.methods("probability")}
)
RankMethod = StrEnum(  # type: ignore[misc]
    "RankMethod", {name: name for name in verifiers.methods("rank")}
)


def _method_option(command: str) -> Any:
    specs = [s for s in verifiers.METHODS if s.command == command]
    help_text = "; ".join(f"{s.name}: {s.summary}" for s in specs)
    return typer.Option(verifiers.default_method(command), "--method", help=help_text)


@dataclass
class AuditArgs:
    """The options every audit command shares, as parsed."""

    provider: str
    target: str
    provider_option: list[str] | None
    endpoint_url: str | None
    region: str | None
    mark: str
    external: list[str] | None
    externals: int | None
    aux: Path
    alpha: float | None
    budget_queries: int | None
    budget_usd: float | None
    price: float | None
    prices: Path | None
    dry_run: bool
    as_json: bool
    report: Path | None
    workspace: Path
    store: Path | None
    surrogate: Path | None = None
    options: dict[str, Any] = field(default_factory=dict)


def _external_names(names: list[str], audited: list[str]) -> list[str]:
    for name in audited:
        if name in names:
            raise UsageError(f"--external {name} is an audited mark; externals must differ")
    repeated = sorted({name for name in names if names.count(name) > 1})
    if repeated:
        raise UsageError(f"--external repeats {', '.join(repeated)}")
    return names


def _print_plan(plan: AuditPlan, as_json: bool, *, own_images: int | None = None) -> None:
    if as_json:
        extra = {"own_images": own_images} if own_images is not None else {}
        print(json.dumps({"dry_run": True, **plan.to_json(), **extra}))
        return
    budget = []
    if plan.budget_queries is not None:
        budget.append(f"{plan.budget_queries} queries")
    if plan.budget_usd is not None:
        budget.append(f"${plan.budget_usd:.2f}")
    where = f"label {plan.label!r}" if plan.label else "every label"
    early = (
        " (it stops as soon as the decision is known)"
        if plan.round_queries < plan.max_queries
        else ""
    )
    print(
        f"plan: {plan.method} on {where} via {plan.provider}\n"
        f"  auxiliary images: {plan.images_available} usable "
        f"({plan.images_unreadable} unreadable, {plan.images_excluded} of the label excluded)\n"
        f"  marks: {plan.marks} (yours and {plan.marks - 1} to compare with)\n"
        f"  queries: {plan.round_queries} in the first step, {plan.max_queries} at most"
        f"{early}; repeats from the ledger are free\n"
        f"  worst-case cost: ${plan.worst_case_usd:.4f} at ${plan.price_per_query:.6f}/query\n"
        f"  budget: {', '.join(budget) if budget else 'unlimited'}"
    )
    if own_images is not None:
        print(f"  own images to propose the label from: {own_images} (one query each)")


def _print_outcome(outcome: AuditOutcome, as_json: bool) -> None:
    if as_json:
        print(json.dumps(outcome.to_json(), default=str))
        return
    from audit.report.wording import evidence_lines, headline

    result = outcome.result.to_json()
    q = outcome.counts
    label = f"label {result['label']!r}" if result["label"] else "no label"
    print(
        "\n".join(
            [
                headline(result),
                f"method: {result['method']}; {label}",
                f"null hypothesis: {result['null_hypothesis']}",
                *evidence_lines(result),
                f"queries: {q.billed} billed, {q.cached} from the ledger, {q.attempts} "
                f"requests; cost ${q.cost_usd:.4f}",
            ]
        )
    )
    if outcome.report is not None:
        print(f"report: {outcome.report.folder}")
    for note in outcome.notes:
        stderr.print(f"note: {note}", highlight=False, markup=False)


def _run(
    command: str,
    method: str,
    args: AuditArgs,
    *,
    label: str | None,
    statistic: str = LOG_PROB,
    top_k: int | None = None,
    other_mark: str | None = None,
    other_label: str | None = None,
    own: Path | None = None,
) -> None:
    """Shared body of the audit commands: resolve marks, build, plan, run, print."""
    with guarded(args.as_json):
        from audit.runner.own_label import plan_own_label_audit, run_own_label_audit
        from audit.runner.plan import prepare
        from audit.runner.request import AuditRequest
        from audit.runner.run import run_audit
        from audit.spending.budget import Budget
        from audit.spending.prices import price_per_query
        from audit.verifiers.protocol import Question

        store = MarkStore.open(args.store)
        audited = [args.mark, other_mark] if other_mark else [args.mark]
        held = [store.get(name) for name in _external_names(args.external or [], audited)]
        options = dict(args.options)
        if args.externals is not None or held:
            options["externals"] = max(args.externals or 0, len(held))
        if own is not None:  # the proposed label is tested alone, with the default test
            command, method = "probability", verifiers.default_method("probability")
            options.pop("labels", None)
        alpha = args.alpha
        if alpha is None:
            alpha = store.posted_alpha(args.mark) or store.default_alpha(args.mark)
            alpha = alpha or DEFAULT_ALPHA
        verifier = verifiers.build_verifier(method, command=command, **options)
        surrogate = None
        if args.surrogate is not None:
            from audit.surrogates.compat import check_takes_surrogate
            from audit.surrogates.models import SurrogateSet

            check_takes_surrogate(verifier)  # before loading any model
            surrogate = SurrogateSet.load(args.surrogate)
        classifier, limiter = build_provider(
            str(args.provider),
            args.target,
            options=args.provider_option,
            endpoint_url=args.endpoint_url,
            region=args.region,
            top_k=top_k,
            store=store,
        )
        request = AuditRequest(
            classifier=classifier,  # type: ignore[arg-type]
            verifier=verifier,
            mark=store.get(args.mark),
            aux_dir=args.aux,
            alpha=alpha,
            budget=Budget(
                args.budget_queries,
                args.budget_usd,
                price_per_query(str(args.provider), override=args.price, prices_file=args.prices),
            ),
            question=Question(label, other_label),
            externals=held,
            other_mark=store.get(other_mark) if other_mark else None,
            statistic=statistic,
            limiter=limiter,
            store=store,
            surrogate=surrogate,
        )
        if own is not None:
            plan = plan_own_label_audit(own, request)
            if args.dry_run:
                from audit.inputs.own_images import count_own_images

                _print_plan(plan, args.as_json, own_images=count_own_images(own))
                return
            with query_progress(plan.max_queries, sys.stderr.isatty()) as advance:
                outcome = run_own_label_audit(
                    own, request, workspace=args.workspace, report_dir=args.report, progress=advance
                )
        else:
            prepared = prepare(request)
            if args.dry_run:
                _print_plan(prepared.plan, args.as_json)
                return
            with query_progress(prepared.plan.max_queries, sys.stderr.isatty()) as advance:
                outcome = run_audit(
                    request,
                    workspace=args.workspace,
                    report_dir=args.report,
                    progress=advance,
                    prepared=prepared,
                )
        _print_outcome(outcome, args.as_json)
    if outcome.exit_code:
        raise typer.Exit(int(outcome.exit_code))


# Options shared by the audit commands (typer needs them per command).
ClassifierProvider = StrEnum(  # type: ignore[misc]
    "ClassifierProvider", {name: name for name in providers.names(ProviderKind.CLASSIFIER)}
)
_PROVIDER = typer.Option(
    "mock",
    "--provider",
    help="Service to query: "
    + "; ".join(f"{s.name}: {s.summary}" for s in providers.specs(ProviderKind.CLASSIFIER)),
)
_TARGET = typer.Option(
    "",
    "--target",
    help="The model. "
    + "; ".join(f"{s.name}: {s.target_help}" for s in providers.specs(ProviderKind.CLASSIFIER)),
)
_MARK = typer.Option(..., help="Your held mark (its name in the store).")
_EXTERNAL = typer.Option(None, "--external", help="A held external mark; repeat for more.")
_EXTERNALS = typer.Option(
    None, min=1, max=10_000, help="How many external marks (fresh ones fill up)."
)
_LABEL = typer.Option(..., help="The label your images were posted under (j).")
_AUX = typer.Option(..., help="Auxiliary images not of the label (a folder, or one per label).")
_ALPHA = typer.Option(
    None,
    help="Blend strength; default: the α the mark was posted with, else the mark's own "
    "(0.4 unless made with --for).",
)
_N = typer.Option(
    None, min=2, max=100_000, help="Auxiliary images per round (default: the method's)."
)
_ROUNDS = typer.Option(None, min=1, max=1000, help="Rounds Q (paper method).")
_DELTA = typer.Option(None, help="Share δ of rounds that must be significant (paper method).")
_LAM = typer.Option(None, help="Per-round significance λ (paper method).")
_LEVEL = typer.Option(
    None, help="False-positive rate the method controls (calibrated, sequential)."
)
_SEED = typer.Option(
    None, min=0, max=2**63 - 1, help="Seed choosing which auxiliary images are queried."
)
_BUDGET_Q = typer.Option(
    None, "--budget-queries", min=0, help="Most queries to pay for in this run (repeats are free)."
)
_BUDGET_USD = typer.Option(None, "--budget-usd", min=0.0, help="Most dollars to spend in this run.")
_PRICE = typer.Option(None, "--price-per-query", min=0.0, help="Override the price table (USD).")
_PRICES = typer.Option(
    None, "--prices", help=r"TOML price file (\[prices] provider = USD per query)."
)
_DRY = typer.Option(
    False, "--dry-run", help="Print the plan and its worst-case cost; send nothing."
)
_SURROGATE = typer.Option(
    None,
    "--surrogate",
    help="Folder of your surrogate models (`isotope surrogate train`): each mark's "
    "statistic is adjusted by what they predict for it (scored here, not billed; the "
    "p-value stays exact). Calibrated rank test only.",
    file_okay=False,
)


def _args(values: dict[str, Any], **options: Any) -> AuditArgs:
    """The shared options among a command's arguments, plus its verifier options."""
    names = AuditArgs.__dataclass_fields__.keys() - {"options"}
    shared: dict[str, Any] = {key: values.get(key) for key in names}
    return AuditArgs(**shared, options={k: v for k, v in options.items() if v is not None})


@audit_app.command()
def probability(
    provider: ClassifierProvider = _PROVIDER,
    target: str = _TARGET,
    provider_option: list[str] | None = ProviderOptionOption,
    endpoint_url: str | None = EndpointUrlOption,
    region: str | None = RegionOption,
    mark: str = _MARK,
    external: list[str] | None = _EXTERNAL,
    externals: int | None = _EXTERNALS,
    label: str = _LABEL,
    aux: Path = _AUX,
    alpha: float | None = _ALPHA,
    method: ProbabilityMethod = _method_option("probability"),
    n: int | None = _N,
    rounds: int | None = _ROUNDS,
    delta: float | None = _DELTA,
    lam: float | None = _LAM,
    level: float | None = _LEVEL,
    seed: int | None = _SEED,
    budget_queries: int | None = _BUDGET_Q,
    budget_usd: float | None = _BUDGET_USD,
    price: float | None = _PRICE,
    prices: Path | None = _PRICES,
    dry_run: bool = _DRY,
    surrogate: Path | None = _SURROGATE,
    as_json: bool = JsonOption,
    report: Path | None = ReportOption,
    workspace: Path = WorkspaceOption,
    store: Path | None = StoreOption,
) -> None:
    """Test whether the mark raises the label's probability (or, from a tagger that returns
    only the tags above its threshold, the tag's confidence, 0 when absent)."""
    args = _args(locals(), n=n, rounds=rounds, delta=delta, lam=lam, level=level, seed=seed)
    _run("probability", str(method), args, label=label)


@audit_app.command()
def rank(
    provider: ClassifierProvider = _PROVIDER,
    target: str = _TARGET,
    provider_option: list[str] | None = ProviderOptionOption,
    endpoint_url: str | None = EndpointUrlOption,
    region: str | None = RegionOption,
    top_k: int | None = typer.Option(
        None, "--top-k", min=1, max=10_000, help="Ask for the top K labels."
    ),
    mark: str = _MARK,
    external: list[str] | None = _EXTERNAL,
    externals: int | None = _EXTERNALS,
    label: str = _LABEL,
    aux: Path = _AUX,
    alpha: float | None = _ALPHA,
    method: RankMethod = _method_option("rank"),
    n: int | None = _N,
    level: float | None = _LEVEL,
    seed: int | None = _SEED,
    budget_queries: int | None = _BUDGET_Q,
    budget_usd: float | None = _BUDGET_USD,
    price: float | None = _PRICE,
    prices: Path | None = _PRICES,
    dry_run: bool = _DRY,
    surrogate: Path | None = _SURROGATE,
    as_json: bool = JsonOption,
    report: Path | None = ReportOption,
    workspace: Path = WorkspaceOption,
    store: Path | None = StoreOption,
) -> None:
    """Test whether the mark lifts the label's rank (top-K or threshold services; for a
    threshold tagger, `audit probability` on the tag's confidence detects more often)."""
    args = _args(locals(), n=n, level=level, seed=seed)
    _run("rank", str(method), args, label=label, statistic=NEG_RANK, top_k=top_k)


@audit_app.command()
def scan(
    provider: ClassifierProvider = _PROVIDER,
    target: str = _TARGET,
    provider_option: list[str] | None = ProviderOptionOption,
    endpoint_url: str | None = EndpointUrlOption,
    region: str | None = RegionOption,
    mark: str = _MARK,
    labels: str | None = typer.Option(
        None, help="Comma-separated labels to scan (default: every label of the model)."
    ),
    own: Path | None = typer.Option(
        None, help="Your own clean images: propose j from the model's answers, test it alone."
    ),
    external: list[str] | None = _EXTERNAL,
    externals: int | None = _EXTERNALS,
    aux: Path = _AUX,
    alpha: float | None = _ALPHA,
    n: int | None = _N,
    level: float | None = _LEVEL,
    seed: int | None = _SEED,
    budget_queries: int | None = _BUDGET_Q,
    budget_usd: float | None = _BUDGET_USD,
    price: float | None = _PRICE,
    prices: Path | None = _PRICES,
    dry_run: bool = _DRY,
    as_json: bool = JsonOption,
    report: Path | None = ReportOption,
    workspace: Path = WorkspaceOption,
    store: Path | None = StoreOption,
) -> None:
    """Find the label the mark was learned on.

    Every label is tested on the same queries, with the family-wise error over labels
    controlled; or, with --own, the label the model gives your own images is proposed
    and tested alone.
    """
    chosen = [name.strip() for name in labels.split(",") if name.strip()] if labels else None
    args = _args(locals(), n=n, level=level, seed=seed, labels=chosen)
    _run("scan", "scan", args, label=None, own=own)


@audit_app.command()
def distinguish(
    provider: ClassifierProvider = _PROVIDER,
    target: str = _TARGET,
    provider_option: list[str] | None = ProviderOptionOption,
    endpoint_url: str | None = EndpointUrlOption,
    region: str | None = RegionOption,
    mark: str = _MARK,
    label: str = _LABEL,
    other_mark: str = typer.Option(..., help="Your second held mark (t_k)."),
    other_label: str = typer.Option(..., help="The label the second mark was posted under."),
    external: list[str] | None = _EXTERNAL,
    externals: int | None = typer.Option(
        None,
        min=0,
        max=10_000,
        help="External marks as a calibration reference (0: the paper's test).",
    ),
    aux: Path = _AUX,
    alpha: float | None = _ALPHA,
    n: int | None = _N,
    level: float | None = _LEVEL,
    seed: int | None = _SEED,
    budget_queries: int | None = _BUDGET_Q,
    budget_usd: float | None = _BUDGET_USD,
    price: float | None = _PRICE,
    prices: Path | None = _PRICES,
    dry_run: bool = _DRY,
    as_json: bool = JsonOption,
    report: Path | None = ReportOption,
    workspace: Path = WorkspaceOption,
    store: Path | None = StoreOption,
) -> None:
    """Check that each of two marks lifts only its own label (the paper's V_D)."""
    if other_mark == mark:
        with guarded(as_json):
            raise UsageError("--other-mark must differ from --mark")
    args = _args(locals(), n=n, level=level, seed=seed)
    _run(
        "distinguish",
        "distinguish",
        args,
        label=label,
        other_mark=other_mark,
        other_label=other_label,
    )
