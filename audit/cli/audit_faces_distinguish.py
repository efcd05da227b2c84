"""CLI command: ``isotope audit faces-distinguish`` (which of your marks a collection holds).

One exact face audit per mark (``audit faces``), each on the copies posted with that
mark (from its newest marking in the store), then Holm's procedure over the marks
(``audit.faces.distinguish``). Exit codes as ``audit.exit_codes.ExitCode``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import typer

from audit.cli.audit_faces import FaceMethod, LiveOption, face_request
from audit.cli.common import (
    EndpointUrlOption,
    JsonOption,
    ProviderOptionOption,
    RegionOption,
    ReportOption,
    StoreOption,
    WorkspaceOption,
    query_progress,
)
from audit.cli.face_options import (
    BudgetQueriesOption,
    BudgetUsdOption,
    CollectionArg,
    DryRunOption,
    FaceProvider,
    PricesOption,
    ProviderArg,
    build_collection,
    face_budget,
)
from audit.cli.guard import guarded
from audit.faces.request import DEFAULT_MAX_FACES, DEFAULT_THRESHOLD
from audit.verifiers import registry as verifiers

DEFAULT_LEVEL = 0.01


def faces_distinguish_command(
    provider: FaceProvider = ProviderArg,
    collection: str = CollectionArg,
    endpoint_url: str | None = EndpointUrlOption,
    region: str | None = RegionOption,
    provider_option: list[str] | None = ProviderOptionOption,
    marks: list[str] = typer.Option(
        ..., "--mark", help="One of your marks (repeat, at least twice): one per site."
    ),
    externals: int | None = typer.Option(
        None,
        "--externals",
        min=1,
        max=10_000,
        help="External marks K per mark (default: the fewest that can reach --level).",
    ),
    n: int | None = typer.Option(
        None, "--n", min=1, max=10_000, help="Photos searched per mark (default 5)."
    ),
    threshold: float = typer.Option(
        DEFAULT_THRESHOLD, "--threshold", min=0.0, max=100.0, help="FaceMatchThreshold."
    ),
    max_faces: int = typer.Option(
        DEFAULT_MAX_FACES, "--max-faces", min=1, max=4096, help="MaxFaces of each search."
    ),
    method: FaceMethod = typer.Option(
        verifiers.default_method("faces"), "--method", help="calibrated or sequential."
    ),
    level: float = typer.Option(
        DEFAULT_LEVEL, "--level", help="Family-wise error over the marks (Holm)."
    ),
    seed: int | None = typer.Option(
        None, "--seed", min=0, max=2**63 - 1, help="Seed choosing the photos."
    ),
    live: bool = LiveOption,
    budget_queries: int | None = BudgetQueriesOption,
    budget_usd: float | None = BudgetUsdOption,
    prices: Path | None = PricesOption,
    dry_run: bool = DryRunOption,
    as_json: bool = JsonOption,
    report: Path | None = ReportOption,
    workspace: Path = WorkspaceOption,
    store_dir: Path | None = StoreOption,
) -> None:
    """Find which of your marks' posted copies a face collection enrolled."""
    with guarded(as_json):
        from audit.cli.guard import UsageError
        from audit.faces.distinguish import externals_needed, run_face_distinguish
        from audit.faces.plan import prepare
        from marks.store import MarkStore

        if len(set(marks)) != len(marks) or len(marks) < 2:
            raise UsageError("give at least two different marks with --mark")
        store = MarkStore.open(store_dir)
        adapter, limiter = build_collection(
            str(provider),
            collection,
            options=provider_option,
            endpoint_url=endpoint_url,
            region=region,
        )
        budget = face_budget(
            str(provider), "search", queries=budget_queries, usd=budget_usd, prices=prices
        )
        k = externals if externals is not None else externals_needed(len(marks), level)
        options = {"n": n, "externals": k, "level": level, "seed": seed}
        requests = {
            name: face_request(
                store,
                name,
                probes=None,
                alpha=None,
                adapter=adapter,
                limiter=limiter,
                method=str(method),
                options=options,
                budget=budget,  # one budget for every mark's searches
                max_faces=max_faces,
                threshold=threshold,
                live=live,
            )
            for name in marks
        }
        if dry_run:
            plans = {name: prepare(request).plan.to_json() for name, request in requests.items()}
            worst = sum(plan["max_searches"] for plan in plans.values())
            if as_json:
                print(json.dumps({"dry_run": True, "marks": plans, "max_searches": worst}))
            else:
                print(
                    f"plan: {len(marks)} face audits of {k} external marks each; "
                    f"at most {worst} searches in all (repeats from the ledger are free)"
                )
            return
        with query_progress(0, sys.stderr.isatty()) as advance:
            outcome = run_face_distinguish(
                requests, level=level, workspace=workspace, report_dir=report, progress=advance
            )
        summary = outcome.to_json()
        if as_json:
            print(json.dumps(summary, default=str))
        else:
            enrolled = ", ".join(summary["enrolled"]) or "none"
            print(f"enrolled: {enrolled} (Holm over {len(marks)} marks at level {level:g})")
            for name, row in summary["marks"].items():
                print(f"  {name}: p {row['p_value']}, Holm-adjusted {row['p_holm']:.3g}")
            print(
                f"searches: {summary['queries']['billed']} billed, "
                f"{summary['queries']['cached']} from the ledger; cost ${summary['cost_usd']:.4f}"
            )
    if outcome.exit_code:
        raise typer.Exit(int(outcome.exit_code))


def register() -> None:
    """Add ``faces-distinguish`` to the ``audit`` group."""
    from audit.cli.audit import audit_app

    audit_app.command("faces-distinguish")(faces_distinguish_command)
