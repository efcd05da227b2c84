"""How a Vertex endpoint's serving model is named, from its resource and its replies."""

from __future__ import annotations

import pytest

from providers.errors import MixedModelsError, PermanentError
from providers.vertex.identity import (
    DeployedModel,
    deployed_models,
    deployment_identity,
    model_id,
    reply_identity,
    serving_identity,
)

A = DeployedModel("11", "projects/p/locations/l/models/500", "2")
B = DeployedModel("12", "projects/p/locations/l/models/501", "1")


def serving(deployed, traffic):
    return serving_identity(
        deployed, traffic, where="endpoint E", provider="vertex", operation="op"
    )


def test_the_model_is_named_by_its_id_however_the_project_is_spelled():
    assert model_id("projects/my-project/locations/l/models/500") == "500"
    assert model_id("projects/123456/locations/l/models/500@3") == "500"
    assert model_id("500") == "500"
    by_name = deployment_identity("11", "projects/my-project/locations/l/models/500", "2")
    by_number = deployment_identity("11", "projects/123456/locations/l/models/500", "2")
    assert by_name == by_number == "deployed=11;model=500;version=2"
    assert deployment_identity(None, "", None) is None


def test_the_model_with_all_the_traffic_serves():
    assert serving([A, B], {"11": 0, "12": 100}) == B.identity
    assert serving([A], {}) == A.identity  # no split published: the only deployed model
    assert serving([], {}) is None  # nothing deployed: the predict call will say so


@pytest.mark.parametrize("traffic", [{"11": 50, "12": 50}, {}])
def test_two_models_sharing_the_traffic_are_refused(traffic):
    with pytest.raises(MixedModelsError) as caught:
        serving([A, B], traffic)
    message = str(caught.value)
    assert message.startswith("op: endpoint E sends its traffic to 2 deployed models")
    assert "11 (model 500" in message and "12 (model 501" in message
    assert "route 100% of the traffic to one deployed model" in message
    assert isinstance(caught.value, PermanentError)


def test_a_reply_that_names_only_its_deployed_model_reads_as_the_resource_does():
    known = {A.id: A}
    assert reply_identity("11", None, "", known) == A.identity
    assert reply_identity("11", "projects/9/locations/l/models/500", "2", {}) == A.identity
    assert reply_identity("12", None, None, known) == "deployed=12;model=;version="


def test_deployed_models_are_read_from_rest_json():
    resource = {
        "deployedModels": [
            {"id": "11", "model": A.model, "modelVersionId": "2"},
            {"model": "no id"},
            "junk",
        ]
    }
    assert deployed_models(resource) == [A]
    assert deployed_models({}) == []
