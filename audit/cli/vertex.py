"""CLI commands: ``isotope vertex upload|train|deploy|undeploy|delete|operations``.

Google Cloud credentials come only from Application Default Credentials (or none, for
a plain ``http://`` ``--api-endpoint``). Exit codes as ``audit.exit_codes.ExitCode``
(2: bad input or not confirmed). Results go to stdout (one JSON object with ``--json``);
progress and errors to stderr. Auditing an endpoint is ``isotope audit probability
--provider vertex --target projects/P/locations/L/endpoints/E``.
"""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console

from audit.cli.common import DEFAULT_WORKSPACE, JsonOption
from audit.cli.guard import UsageError, guarded
from audit.exit_codes import ExitCode

if TYPE_CHECKING:
    from providers.vertex.connection import VertexConnection

vertex_app = typer.Typer(
    help="Google Vertex AI: upload isotopes, train AutoML, deploy, undeploy, delete.",
    no_args_is_help=True,
)
_err = Console(stderr=True)

_PROJECT = typer.Option(None, "--project", help="Google Cloud project (else from the name).")
_LOCATION = typer.Option("us-central1", "--location", help="Vertex AI region.")
_API_ENDPOINT = typer.Option(
    None,
    "--api-endpoint",
    help="Private or local API endpoint, e.g. http://127.0.0.1:8080 (plain HTTP: no credentials).",
)
_TRANSPORT = typer.Option(None, "--transport", help="rest or grpc (http:// endpoints use rest).")
_WORKSPACE = typer.Option(
    DEFAULT_WORKSPACE, "--workspace", help="Where started operations are recorded for resuming."
)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.add_typer(vertex_app, name="vertex")


def _say(message: str) -> None:
    _err.print(message, highlight=False, markup=False, soft_wrap=True)


@contextmanager
def _guarded(as_json: bool) -> Iterator[None]:
    """Library errors become one line on stderr and the documented exit code."""
    # The SDK logs to stdout at INFO; keep stdout for results.
    logging.getLogger("google.cloud.aiplatform").setLevel(logging.WARNING)
    with guarded(as_json):
        yield


def _connection(
    project: str | None, location: str, api_endpoint: str | None, transport: str | None
) -> VertexConnection:
    from providers.vertex.connection import VertexConnection

    return VertexConnection(
        project=project, location=location, api_endpoint=api_endpoint, transport=transport
    )


def _emit(data: dict, as_json: bool, human: str) -> None:
    print(json.dumps(data) if as_json else human)


@vertex_app.command("upload")
def upload(
    marked_dir: Path = typer.Argument(..., help="Folder of images to upload (marked copies)."),
    bucket: str = typer.Option(..., "--bucket", help="Destination gs://bucket/prefix."),
    label: str | None = typer.Option(None, "--label", help="One label for every image."),
    labels_from_folders: bool = typer.Option(
        False, "--labels-from-folders", help="One subfolder per label."
    ),
    import_format: str = typer.Option("csv", "--format", help="Import file: csv or jsonl."),
    workers: int = typer.Option(8, "--workers", min=1, max=64, help="Parallel uploads."),
    dataset_name: str | None = typer.Option(
        None, "--create-dataset", help="Then create a Vertex image dataset of this name."
    ),
    project: str | None = _PROJECT,
    location: str = _LOCATION,
    api_endpoint: str | None = _API_ENDPOINT,
    transport: str | None = _TRANSPORT,
    workspace: Path = _WORKSPACE,
    as_json: bool = JsonOption,
) -> None:
    """Upload images to Cloud Storage (skipping ones already there) and write the import file."""
    with _guarded(as_json):
        from providers.retry import RetryPolicy
        from providers.vertex.upload import upload_folder

        def progress(done: int, total: int) -> None:
            if sys.stderr.isatty() and (done == total or done % 50 == 0):
                _say(f"uploaded {done}/{total}")

        result = upload_folder(
            marked_dir,
            bucket,
            label=label,
            labels_from_folders=labels_from_folders,
            import_format=import_format,
            workers=workers,
            retry=RetryPolicy(),
            progress=progress,
        )
        data = result.to_json()
        human = (
            f"uploaded {len(result.uploaded)}, skipped {len(result.skipped)} already there\n"
            f"labels: {', '.join(f'{k} ({v})' for k, v in sorted(result.labels.items()))}\n"
            f"import file: {result.import_uri}"
        )
        if dataset_name:
            from providers.vertex.oplog import OperationLog
            from providers.vertex.training import create_dataset

            data["dataset"] = create_dataset(
                _connection(project, location, api_endpoint, transport),
                display_name=dataset_name,
                import_uri=result.import_uri,
                log=OperationLog.in_workspace(workspace),
                progress=_say,
            )
            human += f"\ndataset: {data['dataset']}"
        _emit(data, as_json, human)


@vertex_app.command("train")
def train(
    dataset: str = typer.Option(..., "--dataset", help="Dataset resource name, ID or name."),
    budget: int = typer.Option(
        ..., "--budget-milli-node-hours", help="Training budget, 8000..800000 (1000 = 1 hour)."
    ),
    display_name: str = typer.Option("isotope-audit", "--display-name", help="Model name."),
    deploy: bool = typer.Option(False, "--deploy", help="Deploy the model when trained."),
    yes: bool = typer.Option(False, "--yes", help="Accept the cost without asking."),
    wait: bool = typer.Option(True, "--wait/--no-wait", help="Wait for training to end."),
    poll_seconds: float = typer.Option(30.0, "--poll-seconds", min=0.01, help="Status interval."),
    node_hour_usd: float | None = typer.Option(
        None, "--node-hour-usd", min=0.0, help="Training price per node hour (default list price)."
    ),
    project: str | None = _PROJECT,
    location: str = _LOCATION,
    api_endpoint: str | None = _API_ENDPOINT,
    transport: str | None = _TRANSPORT,
    workspace: Path = _WORKSPACE,
    as_json: bool = JsonOption,
) -> None:
    """Train AutoML image classification on a dataset (resumes a recorded run)."""
    with _guarded(as_json):
        from providers.vertex import training
        from providers.vertex.oplog import OperationLog

        if deploy and not wait:
            raise UsageError("--deploy needs --wait (deploy later with `isotope vertex deploy`)")
        price = training.TRAINING_NODE_HOUR_USD if node_hour_usd is None else node_hour_usd
        cost = training.training_cost_usd(budget, price)
        _say(
            f"training budget: {budget:,} milli node hours = {budget / 1000:g} node hours, "
            f"at most ${cost:,.2f} at ${price}/node hour"
            + ("; deployment then bills node hours until you undeploy" if deploy else "")
        )
        if not yes:
            if not sys.stdin.isatty():
                raise UsageError(f"pass --yes to accept spending up to ${cost:,.2f} on training")
            if not typer.confirm("start training?", err=True):
                raise typer.Exit(int(ExitCode.BAD_INPUT))
        connection = _connection(project, location, api_endpoint, transport)
        log = OperationLog.in_workspace(workspace)
        dataset_name = training.find_dataset(connection, dataset)
        started = training.start_training(
            connection,
            dataset=dataset_name,
            budget_milli_node_hours=budget,
            display_name=display_name,
            log=log,
            progress=_say,
        )
        data: dict = {
            "dataset": dataset_name,
            "pipeline": started.pipeline,
            "resumed": started.resumed,
            "max_cost_usd": cost,
        }
        if wait:
            data["model"] = training.wait_for_training(
                connection,
                started.pipeline,
                poll_s=poll_seconds,
                log=log,
                log_key=started.log_key,
                progress=_say,
            )
            if deploy:
                deployment = training.deploy_model(
                    connection, data["model"], display_name=display_name, log=log, progress=_say
                )
                data["endpoint"] = deployment.endpoint
                data["deployed_model_id"] = deployment.deployed_model_id
        human = "\n".join(f"{key}: {value}" for key, value in data.items())
        _emit(data, as_json, human)


@vertex_app.command("deploy")
def deploy(
    model: str = typer.Argument(..., help="Model resource name or ID."),
    endpoint: str | None = typer.Option(None, "--endpoint", help="Existing endpoint, else new."),
    display_name: str = typer.Option("isotope-audit", "--display-name"),
    project: str | None = _PROJECT,
    location: str = _LOCATION,
    api_endpoint: str | None = _API_ENDPOINT,
    transport: str | None = _TRANSPORT,
    workspace: Path = _WORKSPACE,
    as_json: bool = JsonOption,
) -> None:
    """Deploy a model on an endpoint (one node; bills node hours until undeployed)."""
    with _guarded(as_json):
        from providers.vertex.oplog import OperationLog
        from providers.vertex.training import deploy_model

        deployment = deploy_model(
            _connection(project, location, api_endpoint, transport),
            model,
            endpoint=endpoint,
            display_name=display_name,
            log=OperationLog.in_workspace(workspace),
            progress=_say,
        )
        data = {
            "endpoint": deployment.endpoint,
            "deployed_model_id": deployment.deployed_model_id,
            "model": deployment.model,
        }
        _emit(data, as_json, "\n".join(f"{k}: {v}" for k, v in data.items()))


@vertex_app.command("undeploy")
def undeploy(
    endpoint: str = typer.Argument(..., help="Endpoint resource name or ID."),
    deployed_model_id: str | None = typer.Option(
        None, "--deployed-model-id", help="Only this deployed model (default: all)."
    ),
    project: str | None = _PROJECT,
    location: str = _LOCATION,
    api_endpoint: str | None = _API_ENDPOINT,
    transport: str | None = _TRANSPORT,
    as_json: bool = JsonOption,
) -> None:
    """Undeploy models from an endpoint to stop paying for its nodes."""
    with _guarded(as_json):
        from providers.vertex.training import undeploy as undeploy_models

        removed = undeploy_models(
            _connection(project, location, api_endpoint, transport),
            endpoint,
            deployed_model_id=deployed_model_id,
            progress=_say,
        )
        _emit({"undeployed": removed}, as_json, f"undeployed: {', '.join(removed) or 'nothing'}")


@vertex_app.command("delete")
def delete(
    resource: str = typer.Argument(..., help="projects/P/locations/L/endpoints|models|datasets/ID"),
    yes: bool = typer.Option(False, "--yes", help="Delete without asking."),
    project: str | None = _PROJECT,
    location: str = _LOCATION,
    api_endpoint: str | None = _API_ENDPOINT,
    transport: str | None = _TRANSPORT,
    as_json: bool = JsonOption,
) -> None:
    """Delete an endpoint (undeploying first), a model or a dataset."""
    with _guarded(as_json):
        from providers.vertex.training import delete_resource

        if not yes:
            if not sys.stdin.isatty():
                raise UsageError(f"pass --yes to delete {resource}")
            if not typer.confirm(f"delete {resource}?", err=True):
                raise typer.Exit(int(ExitCode.BAD_INPUT))
        delete_resource(
            _connection(project, location, api_endpoint, transport), resource, progress=_say
        )
        _emit({"deleted": resource}, as_json, f"deleted: {resource}")


@vertex_app.command("operations")
def operations(workspace: Path = _WORKSPACE, as_json: bool = JsonOption) -> None:
    """List the Vertex AI resources this workspace started (to resume or clean up)."""
    with _guarded(as_json):
        from providers.vertex.oplog import OperationLog

        records = OperationLog.in_workspace(workspace).records()
        lines = [
            f"{r['kind']}: {r['name']}"
            + "".join(f" {k}={v}" for k, v in sorted(r.items()) if k in ("state", "endpoint"))
            for r in records.values()
        ]
        _emit({"operations": list(records.values())}, as_json, "\n".join(lines) or "none")
