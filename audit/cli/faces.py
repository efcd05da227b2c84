"""CLI commands: ``isotope faces serve|create|describe|delete|enroll|experiment``.

``serve`` runs the local face engine (Rekognition's protocol on 127.0.0.1); the others
work on a collection of Amazon Rekognition (credentials from the AWS standard chain)
or of the local engine. Exit codes as ``audit.exit_codes.ExitCode``. ``register`` also
adds ``isotope audit faces`` (``audit.cli.audit_faces``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import platformdirs
import typer

from audit.cli.common import (
    EndpointUrlOption,
    JsonOption,
    ProviderOptionOption,
    RegionOption,
    ReportOption,
    StoreOption,
    WorkspaceOption,
    print_json,
    query_progress,
    stderr,
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
    face_price,
)
from audit.cli.guard import guarded
from audit.faces.wording import NOT_PULLED, face_evidence_lines
from providers.face_collection import CollectionNotFoundError, FaceCollection
from providers.rate_limit import RateLimiter

faces_app = typer.Typer(
    help="Face collections: serve the local face engine, manage collections, run the "
    "paper's enroll-and-probe experiment.",
    no_args_is_help=True,
)


def default_data_dir() -> Path:
    """Where ``faces serve`` keeps collections unless told: the user data folder."""
    return Path(platformdirs.user_data_dir("isotope-faces", appauthor=False))


@faces_app.command("serve")
def serve_command(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8090, "--port", min=1, max=65535, help="Port to listen on."),
    data: Path | None = typer.Option(
        None, "--data", file_okay=False, help="Folder of the collections (default: user data)."
    ),
    workers: int | None = typer.Option(
        None, "--workers", min=1, max=64, help="Face model sets loaded (default: CPUs, ≤ 4)."
    ),
) -> None:
    """Serve the local face engine (Rekognition's protocol) until Ctrl-C."""
    with guarded(False):
        from providers.faces_local.server import serve

        folder = data or default_data_dir()
        stderr.print(f"local face engine on http://{host}:{port}, collections in {folder}")
        serve(host, port, folder, workers=workers)


def _collection(
    provider: FaceProvider,
    collection: str,
    provider_option: list[str] | None,
    endpoint_url: str | None,
    region: str | None,
) -> tuple[FaceCollection, RateLimiter]:
    return build_collection(
        str(provider),
        collection,
        options=provider_option,
        endpoint_url=endpoint_url,
        region=region,
    )


@faces_app.command("create")
def create_command(
    provider: FaceProvider = ProviderArg,
    collection: str = CollectionArg,
    endpoint_url: str | None = EndpointUrlOption,
    region: str | None = RegionOption,
    provider_option: list[str] | None = ProviderOptionOption,
    as_json: bool = JsonOption,
) -> None:
    """Create a collection."""
    with guarded(as_json):
        adapter, _ = _collection(provider, collection, provider_option, endpoint_url, region)
        info = adapter.create()
    _show(info.to_json(), as_json, f"created collection {info.collection_id}")


@faces_app.command("describe")
def describe_command(
    provider: FaceProvider = ProviderArg,
    collection: str = CollectionArg,
    endpoint_url: str | None = EndpointUrlOption,
    region: str | None = RegionOption,
    provider_option: list[str] | None = ProviderOptionOption,
    as_json: bool = JsonOption,
) -> None:
    """Describe a collection: face model version, face count, model identity."""
    with guarded(as_json):
        adapter, _ = _collection(provider, collection, provider_option, endpoint_url, region)
        info = adapter.describe()
    _show(info.to_json(), as_json, f"collection {info.collection_id}")


@faces_app.command("delete")
def delete_command(
    provider: FaceProvider = ProviderArg,
    collection: str = CollectionArg,
    endpoint_url: str | None = EndpointUrlOption,
    region: str | None = RegionOption,
    provider_option: list[str] | None = ProviderOptionOption,
    as_json: bool = JsonOption,
) -> None:
    """Delete a collection and every face in it."""
    with guarded(as_json):
        adapter, _ = _collection(provider, collection, provider_option, endpoint_url, region)
        adapter.delete()
    _show({"deleted": collection}, as_json, f"deleted collection {collection}")


def _show(payload: dict, as_json: bool, title: str) -> None:
    if as_json:
        print_json(payload)
        return
    typer.echo(title)
    for key, value in payload.items():
        typer.echo(f"  {key}: {value}")


def _exists(adapter: FaceCollection) -> bool:
    """Whether the collection exists (DescribeCollection: not billed per image)."""
    try:
        adapter.describe()
    except CollectionNotFoundError:
        return False
    return True


def _ensure_collection(adapter: FaceCollection) -> bool:
    """Create the collection when it does not exist; whether it was created."""
    if _exists(adapter):
        return False
    adapter.create()
    return True


@faces_app.command("enroll")
def enroll_command(
    plan_dir: Path = typer.Argument(..., help="A plan folder from `isotope prepare rekognition`."),
    provider: FaceProvider = ProviderArg,
    collection: str = CollectionArg,
    endpoint_url: str | None = EndpointUrlOption,
    region: str | None = RegionOption,
    provider_option: list[str] | None = ProviderOptionOption,
    budget_queries: int | None = BudgetQueriesOption,
    budget_usd: float | None = BudgetUsdOption,
    prices: Path | None = PricesOption,
    dry_run: bool = DryRunOption,
    as_json: bool = JsonOption,
    workspace: Path = WorkspaceOption,
    store_dir: Path | None = StoreOption,
) -> None:
    """Enroll a plan's set1 and set2 (idempotent: what is enrolled is skipped; cost first)."""
    with guarded(as_json):
        from audit.faces.enroll import Enroller, EnrollPlan
        from audit.faces.experiment import enroll_items
        from audit.faces.experiment_plan import load_plan
        from audit.spending.ledger import Ledger
        from marks.store import MarkStore

        plan = load_plan(plan_dir, MarkStore.open(store_dir))
        adapter, limiter = _collection(provider, collection, provider_option, endpoint_url, region)
        budget = face_budget(
            str(provider), "index", queries=budget_queries, usd=budget_usd, prices=prices
        )
        exists = _exists(adapter)
        created = not exists and not dry_run
        if created:
            adapter.create()
        ledger = Ledger.in_workspace(workspace)
        try:
            enroller = Enroller(adapter, ledger, budget=budget, limiter=limiter)
            items = enroll_items(plan)
            # A collection not made yet holds nothing: everything is to send.
            todo = (
                enroller.plan(items)
                if exists or created
                else EnrollPlan(items, 0, 0, budget.price_per_query, "")
            )
            stored = todo.present + len(todo.to_send)
            stated = {
                "dry_run": dry_run,
                "collection_existed": exists,
                "collection_created": created,
                **todo.to_json(),
                "storage_usd_per_month": stored * face_price(str(provider), "storage", prices),
            }
            if dry_run or not as_json:
                _state_cost(stated, as_json)
            if dry_run:
                return
            with query_progress(len(todo.to_send), sys.stderr.isatty()) as advance:
                enroller.progress = advance
                report = enroller.run(todo)
        finally:
            ledger.close()
    if as_json:
        print(json.dumps({**stated, **report.to_json()}))
        return
    typer.echo(
        f"indexed {report.indexed}, not indexed {len(report.not_indexed)}, duplicates removed "
        f"{report.duplicates_removed}; {report.counts.billed} billed calls, "
        f"${report.counts.cost_usd:.4f}"
    )
    for external_id, reasons in report.not_indexed.items():
        stderr.print(f"not indexed: {external_id}: {', '.join(reasons)}", markup=False)


def _state_cost(stated: dict, as_json: bool) -> None:
    if as_json:
        print(json.dumps(stated))
        return
    stderr.print(
        f"{stated['images']} images in the plan: {stated['already_enrolled']} already enrolled, "
        f"{stated['refused_before']} refused before (no face); {stated['to_send']} to send, "
        f"${stated['cost_usd']:.4f} at ${stated['price_per_image']:.6f}/image; storing the "
        f"faces costs ${stated['storage_usd_per_month']:.5f} a month",
        highlight=False,
    )


@faces_app.command("experiment")
def experiment_command(
    plan_dir: Path = typer.Argument(..., help="A plan folder from `isotope prepare rekognition`."),
    provider: FaceProvider = ProviderArg,
    collection: str = CollectionArg,
    endpoint_url: str | None = EndpointUrlOption,
    region: str | None = RegionOption,
    provider_option: list[str] | None = ProviderOptionOption,
    threshold: float = typer.Option(
        95.0, "--threshold", min=0.0, max=100.0, help="Similarity threshold of Table 11."
    ),
    max_faces: int = typer.Option(
        20, "--max-faces", min=1, max=4096, help="Matches each search lists at most."
    ),
    externals: int | None = typer.Option(
        None, "--externals", min=1, max=10_000, help="External marks for the p-value (19)."
    ),
    level: float | None = typer.Option(None, "--level", help="Level of the test (0.05)."),
    method: str = typer.Option("sequential", "--method", help="sequential or calibrated."),
    budget_queries: int | None = BudgetQueriesOption,
    budget_usd: float | None = BudgetUsdOption,
    prices: Path | None = PricesOption,
    as_json: bool = JsonOption,
    report: Path | None = ReportOption,
    workspace: Path = WorkspaceOption,
    store_dir: Path | None = StoreOption,
) -> None:
    """Enroll set1/set2, probe set1/set2/set3: Table 11 per set and an exact p-value."""
    with guarded(as_json):
        from audit.errors import AuditInputError
        from audit.faces.experiment import ExperimentRequest, run_experiment
        from audit.faces.experiment_plan import load_plan
        from audit.verifiers.registry import build_verifier
        from marks.store import MarkStore

        store = MarkStore.open(store_dir)
        plan = load_plan(plan_dir, store)
        mark = store.get(plan.mark_name)
        if mark.fingerprint != plan.mark_fingerprint:
            raise AuditInputError(
                f"mark {plan.mark_name!r} in the store is not the one the plan was made with"
            )
        adapter, limiter = _collection(provider, collection, provider_option, endpoint_url, region)
        _ensure_collection(adapter)
        n_set3 = max(1, len(plan.role("set3")))
        verifier = build_verifier(
            method,
            command="faces",
            n=n_set3,
            externals=externals if externals is not None else 19,
            level=level if level is not None else 0.05,
        )
        request = ExperimentRequest(
            collection=adapter,
            plan=plan,
            mark=mark,
            verifier=verifier,
            store=store,
            index_price=face_price(str(provider), "index", prices),
            search_price=face_price(str(provider), "search", prices),
            budget_queries=budget_queries,
            budget_usd=budget_usd,
            threshold=threshold,
            max_faces=max_faces,
            limiter=limiter,
        )
        with query_progress(len(plan.images), sys.stderr.isatty()) as advance:
            outcome = run_experiment(
                request, workspace=workspace, report_dir=report, progress=advance
            )
    if as_json:
        print(json.dumps(outcome.to_json(), default=str))
        return
    _print_table(outcome.to_json())


def _fmt(value: float | None, pattern: str) -> str:
    return "-" if value is None else format(value, pattern)


def _print_table(data: dict) -> None:
    from audit.report.wording import headline

    typer.echo(f"Table 11 at similarity threshold {data['threshold']:g} (paper: Rekognition)")
    typer.echo("set   probes  isotope match (paper)  isotope rank (paper)  true rank  no face")
    for role, row in data["table11"].items():
        paper = data["paper_table11"][role]
        typer.echo(
            f"{role:<5} {row['probes']:>6}  "
            f"{_fmt(row['share_with_isotope_match'], '.0%'):>8} "
            f"({paper['share_with_isotope_match']:.0%})        "
            f"{_fmt(row['mean_isotope_rank'], '.1f'):>5} ({paper['mean_isotope_rank']:.1f})"
            f"          {_fmt(row['mean_true_rank'], '.1f'):>5}  {row['no_face']:>7}"
        )
    typer.echo(headline(data))
    for line in face_evidence_lines({**data, "details": {}}, caveat=NOT_PULLED):
        typer.echo(line)
    typer.echo(f"null hypothesis: {data['null_hypothesis']}")
    typer.echo(f"queries: {data['queries']}; cost ${data['cost_usd']:.4f}")
    if data["report"]:
        typer.echo(f"report: {data['report']}")
    for note in data["notes"]:
        stderr.print(f"note: {note}", highlight=False, markup=False)


def register(app: typer.Typer) -> None:
    """Add the ``faces`` group to the root app, and ``faces`` and ``faces-distinguish`` to
    the ``audit`` group."""
    from audit.cli import audit_faces, audit_faces_distinguish

    app.add_typer(faces_app, name="faces")
    audit_faces.register()
    audit_faces_distinguish.register()
