"""``isotope vertex ...`` against the storage emulator and the fake Vertex AI."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from audit.cli.app import app

from .conftest import BUCKET
from .test_vertex_upload import make_folder

PARENT = "projects/isotope-test/locations/us-central1"


@pytest.fixture
def isotope(cloud, tmp_path):
    """Run ``isotope vertex ARGS`` against the fakes; returns (exit code, stdout, stderr)."""
    runner = CliRunner()

    def run(*args: str, endpoint: bool = True) -> tuple[int, str, str]:
        extra = ["--api-endpoint", cloud.url, "--project", "isotope-test"] if endpoint else []
        result = runner.invoke(app, ["vertex", *args, *extra])
        return result.exit_code, result.stdout, result.stderr

    return run


def test_upload_create_dataset_train_no_wait(isotope, cloud, tmp_path):
    folder = make_folder(tmp_path / "one", labels=("apple",))
    ws = str(tmp_path / "ws")
    code, out, err = isotope(
        "upload", str(folder), "--bucket", f"gs://{BUCKET}/cli", "--label", "apple",
        "--create-dataset", "cli-ds", "--workspace", ws, "--json",
    )  # fmt: skip
    assert code == 0, err
    data = json.loads(out)
    assert data["uploaded"] == 3 and data["import_uri"] == f"gs://{BUCKET}/cli/import.csv"
    dataset = data["dataset"]
    assert dataset.startswith(f"{PARENT}/datasets/")

    code, out, err = isotope(
        "train", "--dataset", dataset, "--budget-milli-node-hours", "8000", "--yes",
        "--no-wait", "--workspace", ws, "--json",
    )  # fmt: skip
    assert code == 0, err
    started = json.loads(out)
    assert started["pipeline"].startswith(f"{PARENT}/trainingPipelines/")
    assert started["max_cost_usd"] == pytest.approx(27.72)
    assert "at most $27.72" in err

    code, out, _ = isotope("operations", "--workspace", ws, "--json", endpoint=False)
    kinds = {r["kind"]: r["name"] for r in json.loads(out)["operations"]}
    assert kinds == {"dataset": dataset, "training_pipeline": started["pipeline"]}


def test_train_asks_before_spending(isotope):
    code, out, err = isotope("train", "--dataset", "1", "--budget-milli-node-hours", "8000")
    assert code == 2 and "pass --yes" in err and out == ""
    code, _, err = isotope("train", "--dataset", "1", "--budget-milli-node-hours", "100", "--yes")
    assert code == 2 and "8,000..800,000" in err


def test_deploy_undeploy_delete(isotope, cloud, model_file, tmp_path):
    served = cloud.fake.deploy_file(model_file, PARENT)
    model = cloud.fake.resources[served]["deployedModels"][0]["model"]
    code, out, err = isotope("deploy", model, "--workspace", str(tmp_path), "--json")
    assert code == 0, err
    deployed = json.loads(out)
    assert deployed["model"] == model
    code, out, _ = isotope("undeploy", deployed["endpoint"], "--json")
    assert json.loads(out) == {"undeployed": [deployed["deployed_model_id"]]}
    code, out, _ = isotope("delete", deployed["endpoint"], "--yes")
    assert code == 0 and out.strip() == f"deleted: {deployed['endpoint']}"
    code, out, err = isotope("delete", deployed["endpoint"], "--yes", "--json")
    assert code == 1
    assert f"vertex delete {deployed['endpoint']}" in err
    assert json.loads(out)["kind"] == "provider"


def test_bad_input_is_one_line_not_a_traceback(isotope, tmp_path):
    code, out, err = isotope("upload", str(tmp_path), "--bucket", "s3://x/y", "--label", "a")
    assert code == 2 and "gs://bucket/prefix" in err and "Traceback" not in err + out
    code, _, err = isotope("delete", "projects/p/locations/l/things/1", "--yes")
    assert code == 2 and "full resource name" in err


def test_unknown_model_fails_with_the_operation(isotope, cloud, tmp_path):
    missing = f"{PARENT}/models/424242"
    endpoints = sum(1 for name in cloud.fake.resources if "/endpoints/" in name)
    code, out, err = isotope("deploy", missing, "--workspace", str(tmp_path))
    assert code == 1 and out == ""
    assert f"vertex deploy {missing}" in err and "NotFound" in err
    assert sum(1 for name in cloud.fake.resources if "/endpoints/" in name) == endpoints


def test_train_waits_then_deploys(isotope, cloud, tmp_path):
    folder = make_folder(tmp_path / "two", labels=("apple", "boat"), per_label=4, side=32)
    ws = str(tmp_path / "ws")
    code, out, err = isotope(
        "upload", str(folder), "--bucket", f"gs://{BUCKET}/cli2", "--labels-from-folders",
        "--create-dataset", "cli-two", "--workspace", ws, "--json",
    )  # fmt: skip
    assert code == 0, err
    dataset = json.loads(out)["dataset"]
    code, out, err = isotope(
        "train", "--dataset", "cli-two", "--budget-milli-node-hours", "8000", "--yes",
        "--deploy", "--poll-seconds", "0.05", "--workspace", ws, "--json",
    )  # fmt: skip
    assert code == 0, err
    done = json.loads(out)
    assert done["dataset"] == dataset and done["resumed"] is False
    assert done["model"].startswith(f"{PARENT}/models/")
    deployed = cloud.fake.resources[done["endpoint"]]["deployedModels"]
    assert [d["id"] for d in deployed] == [done["deployed_model_id"]]
    assert "PIPELINE_STATE_SUCCEEDED" in err  # progress went to stderr
    # Run again: the recorded pipeline and deployment are reused, nothing is paid twice.
    code, out, err = isotope(
        "train", "--dataset", "cli-two", "--budget-milli-node-hours", "8000", "--yes",
        "--deploy", "--poll-seconds", "0.05", "--workspace", ws, "--json",
    )  # fmt: skip
    again = json.loads(out)
    assert code == 0 and again["resumed"] is True
    assert (again["pipeline"], again["endpoint"]) == (done["pipeline"], done["endpoint"])
    code, _, err = isotope("train", "--dataset", "x", "--budget-milli-node-hours", "8000",
                           "--yes", "--deploy", "--no-wait")  # fmt: skip
    assert code == 2 and "--deploy needs --wait" in err
