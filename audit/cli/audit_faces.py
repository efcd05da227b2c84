"""CLI command: ``isotope audit faces`` (a third-party audit of a face collection).

Did collection C enroll the copies of your photos you posted marked? Probes are the
originals of those photos (from the newest marking manifest of ``--mark``, or
``--probes DIR``), each searched with your mark at the posted α (reproducing the
posted copy) and with K external marks of its family; your mark's rank among them is
an exact p-value (``audit.faces``). Exit codes as ``audit.exit_codes.ExitCode``: 0
finished (any verdict), 1 provider failure, 2 bad input, 3 budget spent first.
"""

from __future__ import annotations

import json
import sys
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
)
from audit.cli.guard import guarded
from audit.faces.outcome import FaceAuditOutcome
from audit.faces.plan import FaceAuditPlan
from audit.faces.request import DEFAULT_MAX_FACES, DEFAULT_THRESHOLD
from audit.faces.wording import face_evidence_lines
from audit.verifiers import registry as verifiers

if TYPE_CHECKING:
    from audit.faces.request import FaceAuditRequest
    from audit.spending.budget import Budget
    from marks.store import MarkStore
    from providers.face_collection import FaceCollection
    from providers.rate_limit import RateLimiter

FaceMethod = StrEnum(  # type: ignore[misc]
    "FaceMethod", {name: name for name in verifiers.methods("faces")}
)
LiveOption = typer.Option(
    False,
    "--live",
    help="The collection keeps changing (others enroll or delete faces): go on across "
    "face-count changes, stop only if the face model changes; the p-value is called "
    "approximate when the count changed. Calibrated test only.",
)
_METHOD_HELP = "; ".join(
    f"{s.name}: {s.summary}" for s in verifiers.METHODS if s.command == "faces"
)


def faces_command(
    provider: FaceProvider = ProviderArg,
    collection: str = CollectionArg,
    endpoint_url: str | None = EndpointUrlOption,
    region: str | None = RegionOption,
    provider_option: list[str] | None = ProviderOptionOption,
    mark: str = typer.Option(..., "--mark", help="Your mark (its name in the store)."),
    probes: Path | None = typer.Option(
        None,
        "--probes",
        file_okay=False,
        help="Originals of the photos you posted marked (default: from the mark's newest "
        "marking in the store).",
    ),
    alpha: float | None = typer.Option(
        None, "--alpha", help="α the copies were posted with (default: the marking's)."
    ),
    externals: int | None = typer.Option(
        None, "--externals", min=1, max=10_000, help="External marks K (default 99)."
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
        verifiers.default_method("faces"), "--method", help=_METHOD_HELP
    ),
    level: float | None = typer.Option(None, "--level", help="Level of the test (0.01)."),
    seed: int | None = typer.Option(
        None, "--seed", min=0, max=2**63 - 1, help="Seed choosing the photos searched."
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
    """Test whether a face collection enrolled the marked copies of your photos."""
    with guarded(as_json):
        from audit.faces.plan import prepare
        from audit.faces.run import run_face_audit
        from marks.store import MarkStore

        store = MarkStore.open(store_dir)
        adapter, limiter = build_collection(
            str(provider),
            collection,
            options=provider_option,
            endpoint_url=endpoint_url,
            region=region,
        )
        request = face_request(
            store,
            mark,
            probes=probes,
            alpha=alpha,
            adapter=adapter,
            limiter=limiter,
            method=str(method),
            options={"n": n, "externals": externals, "level": level, "seed": seed},
            budget=face_budget(
                str(provider), "search", queries=budget_queries, usd=budget_usd, prices=prices
            ),
            max_faces=max_faces,
            threshold=threshold,
            live=live,
        )
        prepared = prepare(request)
        if dry_run:
            print_plan(prepared.plan, as_json)
            return
        with query_progress(prepared.plan.max_searches, sys.stderr.isatty()) as advance:
            outcome = run_face_audit(
                request, workspace=workspace, report_dir=report, progress=advance, prepared=prepared
            )
        print_outcome(outcome, as_json)
    if outcome.exit_code:
        raise typer.Exit(int(outcome.exit_code))


def face_request(
    store: MarkStore,
    mark: str,
    *,
    probes: Path | None,
    alpha: float | None,
    adapter: FaceCollection,
    limiter: RateLimiter,
    method: str,
    options: dict[str, Any],
    budget: Budget,
    max_faces: int,
    threshold: float,
    live: bool = False,
) -> FaceAuditRequest:
    """The audit of ``mark``'s posted copies: probes from the store's newest marking of
    it, or from ``probes`` posted at ``alpha``."""
    from audit.errors import AuditInputError
    from audit.faces.probes import probes_from_folder, probes_from_manifest
    from audit.faces.request import FaceAuditRequest

    audited = store.get(mark)
    if probes is None:
        probe_set = probes_from_manifest(store, audited)
        if alpha is not None:
            probe_set.alpha = alpha
    else:
        posted = alpha or store.posted_alpha(mark) or store.default_alpha(mark)
        if posted is None:
            raise AuditInputError(
                f"no α known for mark {mark!r}: give the α the copies were posted with (--alpha)"
            )
        probe_set = probes_from_folder(probes, posted)
    return FaceAuditRequest(
        collection=adapter,
        verifier=verifiers.build_verifier(method, command="faces", **options),
        mark=audited,
        probes=probe_set,
        budget=budget,
        store=store,
        max_faces=max_faces,
        threshold=threshold,
        limiter=limiter,
        live=live,
    )


def print_plan(plan: FaceAuditPlan, as_json: bool) -> None:
    """The dry-run plan, as JSON or for people."""
    if as_json:
        print(json.dumps({"dry_run": True, **plan.to_json()}))
        return
    budget = []
    if plan.budget_queries is not None:
        budget.append(f"{plan.budget_queries} searches")
    if plan.budget_usd is not None:
        budget.append(f"${plan.budget_usd:.2f}")
    print(
        f"plan: {plan.method} face-match test on {plan.provider} {plan.target}\n"
        f"  photos: {plan.probes_used} searched per mark of {plan.probes_available} "
        f"({plan.probes_unreadable} unreadable); α {plan.alpha:g}\n"
        f"  marks: {plan.marks} (yours and {plan.marks - 1} to compare with)\n"
        f"  searches: {plan.first_searches} in the first step, {plan.max_searches} at most; "
        "repeats from the ledger are free\n"
        f"  worst-case cost: ${plan.worst_case_usd:.4f} at ${plan.price_per_search:.6f}/search\n"
        f"  budget: {', '.join(budget) if budget else 'unlimited'}"
    )


def print_outcome(outcome: FaceAuditOutcome, as_json: bool) -> None:
    """The verdict, as JSON or for people; notes on stderr."""
    if as_json:
        print(json.dumps(outcome.to_json(), default=str))
        return
    from audit.report.wording import headline

    result = outcome.result.to_json()
    q = outcome.counts
    metrics = outcome.metrics
    mine, theirs = metrics["true_mark"], metrics["external_marks"]
    lines = [
        headline(result),
        f"method: {result['method']}; collection state: {outcome.model.identity}",
        *face_evidence_lines(result),
        f"null hypothesis: {result['null_hypothesis']}",
        f"searches with a match: your mark {_share(mine['share_with_match'])}, external marks "
        f"{_share(theirs['share_with_match'])}; your mark closest on "
        f"{_share(metrics['share_true_mark_closest'])} of the photos",
        f"searches: {q.billed} billed, {q.cached} from the ledger, {q.attempts} requests; "
        f"cost ${q.cost_usd:.4f}",
    ]
    print("\n".join(lines))
    if outcome.report is not None:
        print(f"report: {outcome.report.folder}")
    for note in outcome.notes:
        stderr.print(f"note: {note}", highlight=False, markup=False)


def _share(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"


def register() -> None:
    """Add ``faces`` to the ``audit`` group."""
    from audit.cli.audit import audit_app

    audit_app.command("faces")(faces_command)
