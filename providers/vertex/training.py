"""Vertex AI AutoML image training: dataset, training pipeline, deploy, undeploy, delete.

Every step is a long-running operation on Google's side. Started resources are recorded
in the workspace's ``OperationLog`` so an interrupted CLI resumes by resource name
instead of starting (and paying for) the work again. Training cost is stated up front:
``budget_milli_node_hours`` is what Google bills at most.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from providers.errors import PermanentError, ProviderOptionError, TransientError
from providers.vertex.connection import VertexConnection
from providers.vertex.errors import PROVIDER, translate
from providers.vertex.oplog import OperationLog

BUDGET_MIN = 8_000
BUDGET_MAX = 800_000
TRAINING_NODE_HOUR_USD = 3.465
"""AutoML image training list price per node hour (2026); override with the CLI's flag."""
_DONE = {"PIPELINE_STATE_SUCCEEDED", "PIPELINE_STATE_FAILED", "PIPELINE_STATE_CANCELLED"}

Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    """The default progress callback: say nothing."""


def check_budget(milli_node_hours: int) -> int:
    """``milli_node_hours`` if Vertex accepts it (8,000..800,000), else ``ValueError``."""
    if not BUDGET_MIN <= milli_node_hours <= BUDGET_MAX:
        raise ProviderOptionError(
            f"--budget-milli-node-hours must be in {BUDGET_MIN:,}..{BUDGET_MAX:,} "
            f"(8 to 800 node hours), got {milli_node_hours:,}"
        )
    return milli_node_hours


def training_cost_usd(
    milli_node_hours: int, node_hour_usd: float = TRAINING_NODE_HOUR_USD
) -> float:
    """The most a training run with this budget can cost, in USD."""
    return check_budget(milli_node_hours) / 1000.0 * node_hour_usd


def _resource(connection: VertexConnection, kind: str, name_or_id: str) -> str:
    if name_or_id.startswith("projects/"):
        return name_or_id
    if not connection.project:
        raise ProviderOptionError(
            f"{name_or_id!r} is a bare ID: give --project or the full resource name"
        )
    return f"projects/{connection.project}/locations/{connection.location}/{kind}/{name_or_id}"


def _call(operation: str, fn: Callable, *args: object, **kwargs: object) -> Any:
    try:
        return fn(*args, **kwargs)
    except (PermanentError, TransientError):
        raise
    except Exception as exc:  # SDK and transport failures, typed and naming the operation
        raise translate(exc, operation=operation) from exc


def create_dataset(
    connection: VertexConnection,
    *,
    display_name: str,
    import_uri: str,
    log: OperationLog | None = None,
    progress: Progress = _quiet,
) -> str:
    """Create an image dataset and import ``import_uri`` (single-label classification).

    Returns the dataset's resource name; a dataset already recorded for the same import
    file in ``log`` is returned without creating another.
    """
    key = f"dataset:{import_uri}"
    recorded = log.get(key) if log else None
    if recorded and recorded.get("state") == "imported":
        progress(f"dataset {recorded['name']} already holds {import_uri}")
        return recorded["name"]
    operation = f"vertex create dataset {display_name!r} from {import_uri}"
    progress(f"creating dataset {display_name!r} and importing {import_uri}")
    with connection.session(operation=operation) as aiplatform:
        schema = aiplatform.schema.dataset.ioformat.image.single_label_classification
        dataset = _call(
            operation,
            aiplatform.ImageDataset.create,
            display_name=display_name,
            gcs_source=[import_uri],
            import_schema_uri=schema,
            sync=True,
        )
    name = dataset.resource_name
    if log:
        log.put(key, kind="dataset", name=name, state="imported")
    progress(f"dataset {name} ready")
    return name


def find_dataset(connection: VertexConnection, name_or_id: str) -> str:
    """A dataset's resource name from its name, numeric ID or display name."""
    if name_or_id.startswith("projects/") or name_or_id.isdigit():
        return _resource(connection, "datasets", name_or_id)
    operation = f"vertex find dataset {name_or_id!r}"
    with connection.session(operation=operation) as aiplatform:
        found = _call(
            operation, aiplatform.ImageDataset.list, filter=f'display_name="{name_or_id}"'
        )
    if len(found) != 1:
        raise PermanentError(
            f"{len(found)} image datasets are named {name_or_id!r}; give the resource name",
            provider=PROVIDER,
            operation=operation,
        )
    return found[0].resource_name


@dataclass(frozen=True)
class TrainingStart:
    """A training pipeline that runs (or ran) on Vertex AI; ``resumed`` if found in the log.

    ``log_key`` is its key in the ``OperationLog`` (pass it to ``wait_for_training``).
    """

    pipeline: str
    resumed: bool
    log_key: str


def start_training(
    connection: VertexConnection,
    *,
    dataset: str,
    budget_milli_node_hours: int,
    display_name: str,
    log: OperationLog | None = None,
    progress: Progress = _quiet,
    create_timeout_s: float = 300.0,
) -> TrainingStart:
    """Start AutoML image classification training (model type CLOUD) on ``dataset``.

    If ``log`` holds a pipeline for the same dataset, budget and name that has not
    failed, it is resumed rather than started again (training is billed per run).
    """
    check_budget(budget_milli_node_hours)
    key = f"training:{dataset}:{budget_milli_node_hours}:{display_name}"
    recorded = log.get(key) if log else None
    if recorded and recorded.get("state") not in (
        "PIPELINE_STATE_FAILED",
        "PIPELINE_STATE_CANCELLED",
    ):
        progress(f"resuming training pipeline {recorded['name']}")
        return TrainingStart(recorded["name"], resumed=True, log_key=key)
    operation = f"vertex start training on {dataset}"
    with connection.session(operation=operation) as aiplatform:
        source = _call(operation, aiplatform.ImageDataset, dataset)
        job = aiplatform.AutoMLImageTrainingJob(
            display_name=display_name,
            prediction_type="classification",
            multi_label=False,
            model_type="CLOUD",
        )
    failure: list[BaseException] = []

    def run() -> None:
        try:
            job.run(
                dataset=source,
                budget_milli_node_hours=budget_milli_node_hours,
                model_display_name=display_name,
                sync=True,
            )
        except BaseException as exc:  # reported by the waiting thread below
            failure.append(exc)

    # The SDK's run blocks until training ends (hours). Run it in a daemon thread so an
    # interrupted CLI can exit; the pipeline itself keeps running on Google's side.
    threading.Thread(target=run, name="isotope-vertex-train", daemon=True).start()
    deadline = time.monotonic() + create_timeout_s
    while True:
        try:
            name = job.resource_name
            break
        except RuntimeError:
            pass  # not created yet
        if failure:
            raise translate(failure[0], operation=operation) from failure[0]
        if time.monotonic() > deadline:
            raise TransientError(
                f"no training pipeline after {create_timeout_s:.0f} s",
                provider=PROVIDER,
                operation=operation,
            )
        time.sleep(0.2)
    if log:
        log.put(key, kind="training_pipeline", name=name, state="PIPELINE_STATE_RUNNING")
    progress(f"training pipeline {name} started")
    return TrainingStart(name, resumed=False, log_key=key)


def wait_for_training(
    connection: VertexConnection,
    pipeline: str,
    *,
    poll_s: float = 30.0,
    timeout_s: float | None = None,
    log: OperationLog | None = None,
    log_key: str | None = None,
    progress: Progress = _quiet,
) -> str:
    """Wait for a training pipeline to end; returns the trained model's resource name.

    Transient polling failures are tolerated (the pipeline does not depend on us).
    Raises ``PermanentError`` if the pipeline failed or was cancelled.
    """
    operation = f"vertex training {pipeline}"
    with connection.session(operation=operation) as aiplatform:
        job = _call(operation, aiplatform.AutoMLImageTrainingJob.get, pipeline)
    started = time.monotonic()
    last = None
    while True:
        try:
            state = _call(operation, lambda: job.state).name
        except TransientError as exc:
            progress(f"polling {pipeline} failed, will retry: {exc}")
            state = last
        if state != last:
            progress(f"{pipeline}: {state} after {time.monotonic() - started:.0f} s")
            if log and log_key:
                log.put(log_key, kind="training_pipeline", name=pipeline, state=state)
            last = state
        if state in _DONE:
            break
        if timeout_s is not None and time.monotonic() - started > timeout_s:
            raise TransientError(
                f"still {state} after {timeout_s:.0f} s; resume later with the same command",
                provider=PROVIDER,
                operation=operation,
            )
        time.sleep(poll_s)
    resource = job.gca_resource
    if state != "PIPELINE_STATE_SUCCEEDED":
        raise PermanentError(
            f"{state}: {resource.error.message or 'no reason given'}",
            provider=PROVIDER,
            operation=operation,
        )
    model = resource.model_to_upload.name
    if not model:
        raise PermanentError(
            "the pipeline produced no model", provider=PROVIDER, operation=operation
        )
    return model


@dataclass(frozen=True)
class Deployment:
    """A model deployed on an endpoint."""

    endpoint: str
    deployed_model_id: str
    model: str


def deploy_model(
    connection: VertexConnection,
    model: str,
    *,
    endpoint: str | None = None,
    display_name: str = "isotope-audit",
    log: OperationLog | None = None,
    progress: Progress = _quiet,
) -> Deployment:
    """Deploy ``model`` (one node, automatic resources) on ``endpoint`` or a new endpoint.

    The endpoint is recorded before deployment starts, and a model already deployed
    there is not deployed twice (deployed endpoints bill every node hour).
    """
    model = _resource(connection, "models", model)
    key = f"deploy:{model}"
    operation = f"vertex deploy {model}"
    recorded = log.get(key) if log else None
    endpoint = endpoint or (recorded or {}).get("endpoint")
    with connection.session(operation=operation) as aiplatform:
        source = _call(operation, aiplatform.Model, model)  # fails before creating anything
        if endpoint is None:
            progress(f"creating endpoint {display_name!r}")
            target = _call(operation, aiplatform.Endpoint.create, display_name=display_name)
        else:
            target = _call(
                operation, aiplatform.Endpoint, _resource(connection, "endpoints", endpoint)
            )
        if log:
            log.put(key, kind="deployment", name=model, endpoint=target.resource_name)
        for deployed in _call(operation, target.list_models):
            if deployed.model.split("@")[0] == model:
                progress(f"{model} is already deployed on {target.resource_name}")
                return Deployment(target.resource_name, deployed.id, model)
        progress(f"deploying {model} on {target.resource_name} (this bills node hours)")
        _call(
            operation,
            source.deploy,
            endpoint=target,
            deployed_model_display_name=display_name,
            min_replica_count=1,
            max_replica_count=1,
            sync=True,
        )
        deployed = [
            d for d in _call(operation, target.list_models) if d.model.split("@")[0] == model
        ]
    if not deployed:
        raise PermanentError(
            "deployment finished but the model is not on the endpoint",
            provider=PROVIDER,
            operation=operation,
        )
    if log:
        log.put(
            key,
            kind="deployment",
            name=model,
            endpoint=target.resource_name,
            deployed_model_id=deployed[0].id,
        )
    progress(f"deployed: {target.resource_name}")
    return Deployment(target.resource_name, deployed[0].id, model)


def undeploy(
    connection: VertexConnection,
    endpoint: str,
    *,
    deployed_model_id: str | None = None,
    progress: Progress = _quiet,
) -> list[str]:
    """Undeploy one model (or all) from ``endpoint`` to stop node-hour billing.

    Returns the deployed-model IDs removed.
    """
    endpoint = _resource(connection, "endpoints", endpoint)
    operation = f"vertex undeploy from {endpoint}"
    with connection.session(operation=operation) as aiplatform:
        target = _call(operation, aiplatform.Endpoint, endpoint)
        ids = [d.id for d in _call(operation, target.list_models)]
        if deployed_model_id is not None:
            if deployed_model_id not in ids:
                raise PermanentError(
                    f"deployed model {deployed_model_id} is not on the endpoint (it has {ids})",
                    provider=PROVIDER,
                    operation=operation,
                )
            ids = [deployed_model_id]
        for deployed_id in ids:
            progress(f"undeploying {deployed_id} from {endpoint}")
            _call(operation, target.undeploy, deployed_model_id=deployed_id, sync=True)
    return ids


_DELETABLE = {"endpoints": "Endpoint", "models": "Model", "datasets": "ImageDataset"}


def delete_resource(
    connection: VertexConnection, name: str, *, progress: Progress = _quiet
) -> None:
    """Delete an endpoint (undeploying its models first), a model, or a dataset."""
    parts = name.split("/")
    if len(parts) != 6 or parts[0] != "projects" or parts[4] not in _DELETABLE:
        raise ProviderOptionError(
            "give the full resource name of an endpoint, model or dataset "
            f"(projects/P/locations/L/endpoints|models|datasets/ID), got {name!r}"
        )
    operation = f"vertex delete {name}"
    with connection.session(operation=operation) as aiplatform:
        resource = _call(operation, getattr(aiplatform, _DELETABLE[parts[4]]), name)
        progress(f"deleting {name}")
        if parts[4] == "endpoints":
            _call(operation, resource.delete, force=True, sync=True)
        else:
            _call(operation, resource.delete, sync=True)
