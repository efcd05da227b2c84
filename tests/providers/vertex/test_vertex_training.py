"""Datasets, training pipelines, deploy/undeploy/delete through the real SDK and the fake."""

from __future__ import annotations

import os
import stat

import pytest

from providers.errors import PermanentError
from providers.vertex import training
from providers.vertex.oplog import OperationLog
from providers.vertex.upload import upload_folder

from .conftest import BUCKET
from .test_vertex_upload import make_folder

PARENT = "projects/isotope-test/locations/us-central1"


def test_budget_is_checked_and_priced():
    assert training.training_cost_usd(8_000) == pytest.approx(8 * 3.465)
    assert training.training_cost_usd(24_000, node_hour_usd=1.0) == pytest.approx(24.0)
    for bad in (7_999, 800_001, 0):
        with pytest.raises(ValueError, match=r"8,000\.\.800,000"):
            training.check_budget(bad)


def test_oplog_is_private_and_atomic(tmp_path):
    log = OperationLog.in_workspace(tmp_path / "ws")
    log.put("k", kind="dataset", name="projects/p/locations/l/datasets/1", state="imported")
    log.put("k", kind="dataset", name="projects/p/locations/l/datasets/1", extra=1)
    record = log.get("k")
    assert record["state"] == "imported" and record["extra"] == 1
    assert stat.S_IMODE(os.stat(log.path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(tmp_path / "ws").st_mode) == 0o700
    assert [p.name for p in (tmp_path / "ws").iterdir()] == [log.path.name]
    log.path.write_text("[1, 2]")
    with pytest.raises(ValueError, match="not a JSON object"):
        log.records()


@pytest.fixture
def one_label_dataset(cloud, tmp_path):
    """A dataset whose training fails fast: it holds one label only."""
    folder = make_folder(tmp_path / "one", labels=("apple",))
    uploaded = upload_folder(folder, f"gs://{BUCKET}/one-{tmp_path.name}", label="apple")
    log = OperationLog.in_workspace(tmp_path / "ws")
    dataset = training.create_dataset(
        cloud.connection, display_name="one", import_uri=uploaded.import_uri, log=log
    )
    return dataset, uploaded.import_uri, log


def test_dataset_and_pipeline_resume_from_the_log(cloud, one_label_dataset):
    dataset, import_uri, log = one_label_dataset
    assert dataset.startswith(f"{PARENT}/datasets/")
    assert len(cloud.fake.items[dataset]) == 3
    again = training.create_dataset(
        cloud.connection, display_name="one", import_uri=import_uri, log=log
    )
    assert again == dataset  # not created twice
    assert training.find_dataset(cloud.connection, dataset.rsplit("/", 1)[1]) == dataset
    named = f"named-{dataset.rsplit('/', 1)[1]}"
    cloud.fake.resources[dataset]["displayName"] = named
    assert training.find_dataset(cloud.connection, named) == dataset
    with pytest.raises(PermanentError, match="0 image datasets are named 'nobody'"):
        training.find_dataset(cloud.connection, "nobody")

    started = training.start_training(
        cloud.connection,
        dataset=dataset,
        budget_milli_node_hours=8_000,
        display_name="one",
        log=log,
    )
    resumed = training.start_training(
        cloud.connection,
        dataset=dataset,
        budget_milli_node_hours=8_000,
        display_name="one",
        log=log,
    )
    assert not started.resumed and resumed.resumed and resumed.pipeline == started.pipeline
    key = started.log_key
    with pytest.raises(PermanentError) as caught:
        training.wait_for_training(
            cloud.connection, started.pipeline, poll_s=0.05, log=log, log_key=key
        )
    assert caught.value.operation == f"vertex training {started.pipeline}"
    assert "PIPELINE_STATE_FAILED" in str(caught.value) and "at least 2 labels" in str(caught.value)
    assert log.get(key)["state"] == "PIPELINE_STATE_FAILED"
    # A failed pipeline is not resumed: a new run starts.
    retried = training.start_training(
        cloud.connection,
        dataset=dataset,
        budget_milli_node_hours=8_000,
        display_name="one",
        log=log,
    )
    assert not retried.resumed and retried.pipeline != started.pipeline


def test_import_of_a_missing_file_fails_with_the_operation(cloud):
    with pytest.raises(PermanentError) as caught:
        training.create_dataset(
            cloud.connection, display_name="x", import_uri=f"gs://{BUCKET}/nothing/import.csv"
        )
    assert "vertex create dataset 'x'" in str(caught.value)
    assert "no such object" in str(caught.value)


def test_deploy_undeploy_delete(cloud, model_file, tmp_path):
    served = cloud.fake.deploy_file(model_file, PARENT)
    model = cloud.fake.resources[served]["deployedModels"][0]["model"]
    log = OperationLog.in_workspace(tmp_path)
    first = training.deploy_model(cloud.connection, model, display_name="mine", log=log)
    assert first.endpoint != served and first.model == model
    again = training.deploy_model(cloud.connection, model, display_name="mine", log=log)
    assert again == first  # found in the log, already deployed: not deployed twice
    assert len(cloud.fake.resources[first.endpoint]["deployedModels"]) == 1

    assert training.undeploy(cloud.connection, first.endpoint) == [first.deployed_model_id]
    assert cloud.fake.resources[first.endpoint]["deployedModels"] == []
    with pytest.raises(PermanentError, match="is not on the endpoint"):
        training.undeploy(cloud.connection, first.endpoint, deployed_model_id="42")
    training.delete_resource(cloud.connection, first.endpoint)
    assert first.endpoint not in cloud.fake.resources
    with pytest.raises(PermanentError, match="is deployed"):
        training.delete_resource(cloud.connection, model)  # still on ``served``
    training.delete_resource(cloud.connection, served)  # force: undeploys first
    training.delete_resource(cloud.connection, model)
    assert model not in cloud.fake.resources
    with pytest.raises(ValueError, match="full resource name"):
        training.delete_resource(cloud.connection, f"{PARENT}/trainingPipelines/1")


def test_operations_that_are_not_done_yet_are_polled(cloud, model_file):
    served = cloud.fake.deploy_file(model_file, PARENT)
    cloud.fake.pending_polls = 1  # the POST says done: false; the SDK must poll
    try:
        removed = training.undeploy(cloud.connection, served)
    finally:
        cloud.fake.pending_polls = 0
    assert len(removed) == 1
    assert cloud.fake.resources[served]["deployedModels"] == []
