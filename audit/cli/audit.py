"""CLI commands: ``isotope audit probability|rank|scan|distinguish``.

Exit codes: 0 finished (any verdict), 1 provider failure, 2 bad input, 3 budget spent
before a decision. Results go to stdout (one JSON object with ``--json``); progress
and errors to stderr.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

from audit.cli.guard import EXIT_BUDGET, fail, guarded
from audit.queries.oracle import BudgetExhausted
from audit.queries.provider_oracle import LOG_PROB, NEG_RANK
from audit.spending.budget import Budget
from audit.spending.prices import price_per_query
from marks.errors import MarkEngineError
from marks.store import MarkStore
from providers.registry import PROVIDERS, build_classifier

if TYPE_CHECKING:
    from audit.runner.run import AuditOutcome, AuditPlan

EXIT_INTERRUPTED = 130  # the shell's code for SIGINT
DEFAULT_WORKSPACE = Path("isotope-workspace")
DEFAULT_ALPHA = 0.4

audit_app = typer.Typer(
    help="Ask a model whether it learned your mark (query its API, run a statistical test).",
    no_args_is_help=True,
)
_err = Console(stderr=True)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.add_typer(audit_app, name="audit")


@contextmanager
def _guarded(as_json: bool) -> Iterator[None]:
    """Turn library errors into a one-line message and the documented exit code."""
    try:
        with guarded(as_json, bad_input=(MarkEngineError,)):
            yield
    except BudgetExhausted as exc:
        raise fail(str(exc), EXIT_BUDGET, as_json) from None
    except KeyboardInterrupt:
        _err.print("interrupted: every reply received is in the ledger; run again to resume")
        raise typer.Exit(EXIT_INTERRUPTED) from None


@contextmanager
def _progress(total: int, enabled: bool):
    if not enabled:
        yield None
        return
    columns = (TextColumn("querying"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=_err, transient=True) as bar:
        task = bar.add_task("queries", total=total)
        yield lambda n: bar.advance(task, n)


def _external_names(names: list[str], audited: list[str]) -> list[str]:
    for name in audited:
        if name in names:
            raise ValueError(f"--external {name} is an audited mark; externals must differ")
    duplicates = sorted({name for name in names if names.count(name) > 1})
    if duplicates:
        raise ValueError(f"--external repeats {', '.join(duplicates)}")
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
    print(
        f"plan: {plan.method} on label {plan.label!r} via {plan.provider}\n"
        f"  auxiliary images: {plan.images_available} usable "
        f"({plan.images_unreadable} unreadable, {plan.images_excluded} of the label excluded)\n"
        f"  marks: {plan.marks} (yours and {plan.marks - 1} to compare with)\n"
        f"  queries: first round {plan.round_queries}, worst case {plan.max_queries} "
        "(repeats from the ledger are free)\n"
        f"  worst-case cost: ${plan.worst_case_usd:.4f} at ${plan.price_per_query:.6f}/query\n"
        f"  budget: {', '.join(budget) if budget else 'unlimited'}"
    )
    if own_images is not None:
        print(f"  own images to propose the label from: {own_images} (one query each)")


def _print_outcome(outcome: AuditOutcome, as_json: bool) -> None:
    if as_json:
        print(json.dumps(outcome.to_json(), default=str))
        return
    result = outcome.result
    p = "n/a" if result.p_value is None else f"{result.p_value:.3g}"
    reason = f" ({result.reason})" if result.reason else ""
    q = outcome.counts
    print(
        f"verdict: {result.verdict.value}{reason}\n"
        f"method: {result.method}; label: {result.label!r}; p-value: {p} (level {result.level})\n"
        f"null hypothesis: {result.null_hypothesis}\n"
        f"queries: {q.billed} billed, {q.cached} from the ledger, {q.attempts} requests; "
        f"cost ${q.cost_usd:.4f}"
    )
    if outcome.report is not None:
        print(f"report: {outcome.report.folder}")
    for note in outcome.notes:
        _err.print(f"note: {note}", highlight=False, markup=False)


def _build_verifier(kind: str, method: str, options: dict[str, Any]) -> Any:
    if kind == "scan":
        from audit.verifiers.label_scan import LabelScan

        return LabelScan(**options)
    if kind == "distinguish":
        from audit.verifiers.distinguish import Distinguisher

        return Distinguisher(**options)
    from audit.verifiers import build_verifier

    return build_verifier(method, **options)


def _audit(
    kind: str,
    *,
    statistic: str,
    provider: str,
    target: str,
    mark: str,
    external: list[str] | None,
    externals: int | None,
    label: str | None,
    aux: Path,
    alpha: float | None,
    method: str,
    options: dict[str, Any],
    budget_queries: int | None,
    budget_usd: float | None,
    price: float | None,
    prices: Path | None,
    dry_run: bool,
    as_json: bool,
    report: Path | None,
    workspace: Path,
    store: Path | None,
    top_k: int | None = None,
    api_endpoint: str | None = None,
    other_mark: str | None = None,
    other_label: str | None = None,
    own: Path | None = None,
) -> None:
    """Shared body of the audit commands: resolve marks, build, plan, run, print."""
    with _guarded(as_json):
        from audit.runner.run import AuditRequest, plan_audit, run_audit

        held_store = MarkStore.open(store)
        true_mark = held_store.get(mark)
        names = _external_names(external or [], [mark, other_mark] if other_mark else [mark])
        held = [held_store.get(name) for name in names]
        if externals is not None or held:
            options["externals"] = max(externals or 0, len(held))
        if alpha is None:
            alpha = held_store.posted_alpha(mark) or DEFAULT_ALPHA
        classifier = build_classifier(
            provider, target, store=held_store, top_k=top_k, api_endpoint=api_endpoint
        )
        budget = Budget(
            budget_queries,
            budget_usd,
            price_per_query(provider, override=price, prices_file=prices),
        )

        def request_for(kind: str, method: str, label: str | None) -> AuditRequest:
            return AuditRequest(
                classifier=classifier,
                verifier=_build_verifier(kind, method, options),
                mark=true_mark,
                aux_dir=aux,
                alpha=alpha,
                budget=budget,
                label=label,
                externals=held,
                other=(held_store.get(other_mark), other_label)
                if other_mark and other_label
                else None,
                statistic=statistic,
            )

        request = request_for(kind, method, label)
        plan = plan_audit(request)
        if dry_run:
            _print_plan(plan, as_json, own_images=_count_own(own))
            return
        proposals, own_counts, notes = [], None, []
        if own is not None:
            from audit.inputs.own_images import propose_from_own_images

            found, own_counts = propose_from_own_images(
                classifier, own, workspace=workspace, budget=budget
            )
            proposals = [p.__dict__ for p in found]
            label, kind, method = found[0].label, "single", "calibrated"
            options.pop("labels", None)
            notes.append(
                f"label {label!r} proposed from the model's answers on {own} "
                f"(top label of {found[0].top1_share:.0%} of those images); tested alone"
            )
            request = request_for(kind, method, label)
            plan = plan_audit(request)
        with _progress(plan.max_queries, sys.stderr.isatty()) as advance:
            outcome = run_audit(
                request,
                workspace=workspace,
                report_dir=report,
                progress=advance,
                notes=notes,
            )
        if own_counts is not None:
            outcome.counts = outcome.counts + own_counts
            outcome.proposals = proposals
        _print_outcome(outcome, as_json)
    if outcome.exit_code:
        raise typer.Exit(outcome.exit_code)


def _count_own(own: Path | None) -> int | None:
    if own is None:
        return None
    from audit.inputs.own_images import count_own_images

    return count_own_images(own)


# Options shared by the audit commands (typer needs them per command).
_PROVIDER = typer.Option("mock", help=f"Service to query: {', '.join(PROVIDERS)}.")
_TARGET = typer.Option(
    "", help="Model/endpoint: a URL (local), an endpoint name (vertex), key=value pairs (mock)."
)
_MARK = typer.Option(..., help="Your held mark (its name in the store).")
_EXTERNAL = typer.Option(None, "--external", help="A held external mark; repeat for more.")
_EXTERNALS = typer.Option(None, min=1, help="How many external marks (fresh ones fill up).")
_LABEL = typer.Option(..., help="The label your images were posted under (j).")
_AUX = typer.Option(..., help="Auxiliary images not of the label (a folder, or one per label).")
_ALPHA = typer.Option(
    None, help="Blend strength; default: the α the mark was posted with, else 0.4."
)
_N = typer.Option(None, min=2, help="Auxiliary images per round (default: the method's).")
_ROUNDS = typer.Option(None, min=1, help="Rounds Q (paper method).")
_DELTA = typer.Option(None, help="Share δ of rounds that must be significant (paper method).")
_LAM = typer.Option(None, help="Per-round significance λ (paper method).")
_LEVEL = typer.Option(
    None, help="False-positive rate the method controls (calibrated, sequential)."
)
_SEED = typer.Option(None, help="Seed choosing which auxiliary images are queried.")
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
_JSON = typer.Option(False, "--json", help="Print one JSON object on stdout.")
_REPORT = typer.Option(None, help="Report folder (default: WORKSPACE/reports/<time>-<method>).")
_WORKSPACE = typer.Option(DEFAULT_WORKSPACE, help="Folder of the query ledger and reports.")
_STORE = typer.Option(None, "--store", help="Mark store (default: $ISOTOPE_HOME or user data dir).")
_API = typer.Option(None, "--api-endpoint", help="Private or local API endpoint (vertex).")


def _verifier_options(**values: Any) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


@audit_app.command()
def probability(
    provider: str = _PROVIDER,
    target: str = _TARGET,
    mark: str = _MARK,
    external: list[str] | None = _EXTERNAL,
    externals: int | None = _EXTERNALS,
    label: str = _LABEL,
    aux: Path = _AUX,
    alpha: float | None = _ALPHA,
    method: str = typer.Option("calibrated", help="calibrated | sequential | paper."),
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
    as_json: bool = _JSON,
    report: Path | None = _REPORT,
    workspace: Path = _WORKSPACE,
    store: Path | None = _STORE,
    api_endpoint: str | None = _API,
) -> None:
    """Test whether the mark raises the label's probability (full-output services)."""
    options = _verifier_options(n=n, rounds=rounds, delta=delta, lam=lam, level=level, seed=seed)
    _audit("single", statistic=LOG_PROB, options=options, **_common(locals()))


@audit_app.command()
def rank(
    provider: str = _PROVIDER,
    target: str = _TARGET,
    top_k: int | None = typer.Option(None, "--top-k", min=1, help="Ask for the top K labels."),
    mark: str = _MARK,
    external: list[str] | None = _EXTERNAL,
    externals: int | None = _EXTERNALS,
    label: str = _LABEL,
    aux: Path = _AUX,
    alpha: float | None = _ALPHA,
    method: str = typer.Option("rank", help="rank | calibrated | sequential, on ranks."),
    n: int | None = _N,
    level: float | None = _LEVEL,
    seed: int | None = _SEED,
    budget_queries: int | None = _BUDGET_Q,
    budget_usd: float | None = _BUDGET_USD,
    price: float | None = _PRICE,
    prices: Path | None = _PRICES,
    dry_run: bool = _DRY,
    as_json: bool = _JSON,
    report: Path | None = _REPORT,
    workspace: Path = _WORKSPACE,
    store: Path | None = _STORE,
    api_endpoint: str | None = _API,
) -> None:
    """Test whether the mark lifts the label's rank (top-K or threshold services)."""
    options = _verifier_options(n=n, level=level, seed=seed)
    _audit("single", statistic=NEG_RANK, options=options, **_common(locals()))


@audit_app.command()
def scan(
    provider: str = _PROVIDER,
    target: str = _TARGET,
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
    as_json: bool = _JSON,
    report: Path | None = _REPORT,
    workspace: Path = _WORKSPACE,
    store: Path | None = _STORE,
    api_endpoint: str | None = _API,
) -> None:
    """Find the label the mark was learned on.

    Every label is tested on the same queries, Holm-corrected over labels; or, with
    --own, the label the model gives your own images is proposed and tested alone.
    """
    chosen = [name.strip() for name in labels.split(",") if name.strip()] if labels else None
    options = _verifier_options(n=n, level=level, seed=seed, labels=chosen)
    _audit(
        "scan",
        statistic=LOG_PROB,
        options=options,
        label=None,
        method="scan",
        own=own,
        **_common(locals()),
    )


@audit_app.command()
def distinguish(
    provider: str = _PROVIDER,
    target: str = _TARGET,
    mark: str = _MARK,
    label: str = _LABEL,
    other_mark: str = typer.Option(..., help="Your second held mark (t_k)."),
    other_label: str = typer.Option(..., help="The label the second mark was posted under."),
    external: list[str] | None = _EXTERNAL,
    externals: int | None = typer.Option(
        None, min=0, help="External marks as a calibration reference (0: the paper's test)."
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
    as_json: bool = _JSON,
    report: Path | None = _REPORT,
    workspace: Path = _WORKSPACE,
    store: Path | None = _STORE,
    api_endpoint: str | None = _API,
) -> None:
    """Check that each of two marks lifts only its own label (the paper's V_D)."""
    if other_mark == mark:
        with _guarded(as_json):
            raise ValueError("--other-mark must differ from --mark")
    options = _verifier_options(n=n, level=level, seed=seed)
    _audit(
        "distinguish",
        statistic=LOG_PROB,
        options=options,
        method="distinguish",
        other_mark=other_mark,
        other_label=other_label,
        **_common(locals()),
    )


_COMMON = (
    "provider", "target", "mark", "external", "externals", "label", "aux", "alpha", "method",
    "budget_queries", "budget_usd", "price", "prices", "dry_run", "as_json", "report",
    "workspace", "store", "top_k", "api_endpoint",
)  # fmt: skip


def _common(values: dict[str, Any]) -> dict[str, Any]:
    """The shared options among a command's arguments."""
    return {key: values[key] for key in _COMMON if key in values}
