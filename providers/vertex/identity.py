"""Which model answers a Vertex AI endpoint, from its predict replies or its resource.

Shared by the Vertex adapter and the local client (anything that speaks the Vertex REST
protocol). An identity names the deployed model, the model and the model version:
``deployed=D;model=M;version=V``. The model is named by its ID alone (the last segment
of ``projects/P/locations/L/models/M``, without an ``@version`` tail), because the
endpoint resource and a predict reply may spell the project as its ID or its number;
the target already names the project and region.

The public predict API has no way to address one deployed model of an endpoint
(``PredictRequest`` holds only the endpoint, the instances and the parameters; the
``X-Vertex-AI-Deployed-Model-Id`` header is something ``rawPredict`` *answers* with), so
an endpoint whose traffic is split between deployed models cannot be audited without
mixing their replies: ``serving_identity`` refuses it.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from providers.errors import MixedModelsError


def model_id(model: str) -> str:
    """``M`` of ``projects/P/locations/L/models/M[@V]`` (a bare ID is returned as is)."""
    return model.split("@", 1)[0].rstrip("/").rsplit("/", 1)[-1]


def deployment_identity(
    deployed_model_id: object, model: object, model_version_id: object
) -> str | None:
    """The identity string of one deployed model; None when the service named nothing."""
    deployed, name, version = (
        "" if value is None else str(value)
        for value in (deployed_model_id, model, model_version_id)
    )
    name = model_id(name) if name else ""
    if not (deployed or name or version):
        return None
    return f"deployed={deployed};model={name};version={version}"


def reply_identity(
    deployed_model_id: object,
    model: object,
    model_version_id: object,
    known: Mapping[str, DeployedModel],
) -> str | None:
    """The identity of the deployed model a predict reply names.

    A reply that names its deployed model but not the model or version (some servers
    leave them out) gets them from ``known``, the endpoint resource's deployed models by
    ID, so that it reads the same as ``serving_identity`` did: a deployed model's model
    and version never change while it stays deployed.
    """
    entry = known.get(str(deployed_model_id)) if deployed_model_id not in (None, "") else None
    if entry is not None:
        model = model or entry.model
        model_version_id = model_version_id or entry.version
    return deployment_identity(deployed_model_id, model, model_version_id)


@dataclass(frozen=True)
class DeployedModel:
    """One entry of an endpoint's ``deployedModels``."""

    id: str
    model: str = ""
    version: str = ""

    @property
    def identity(self) -> str | None:
        """Its identity string (``deployment_identity``)."""
        return deployment_identity(self.id, self.model, self.version)


def deployed_models(resource: Mapping[str, object]) -> list[DeployedModel]:
    """The ``deployedModels`` of an endpoint resource in REST (camelCase) JSON."""
    found = resource.get("deployedModels")
    out = []
    for entry in found if isinstance(found, list) else []:
        if isinstance(entry, Mapping) and entry.get("id") not in (None, ""):
            out.append(
                DeployedModel(
                    str(entry["id"]),
                    str(entry.get("model") or ""),
                    str(entry.get("modelVersionId") or ""),
                )
            )
    return out


def serving_identity(
    deployed: Sequence[DeployedModel],
    traffic: Mapping[str, float],
    *,
    where: str,
    provider: str,
    operation: str,
) -> str | None:
    """The identity of the one deployed model that receives the endpoint's traffic.

    A deployed model absent from ``traffic`` (or at 0%) gets no requests. An empty
    split with one deployed model means that model (servers that do not split traffic
    often leave the map out). None when nothing is deployed, or the split names a
    model the resource does not list: the replies will tell.

    Raises ``MixedModelsError`` when more than one deployed model would answer.
    """
    if traffic:
        serving = [str(i) for i, share in traffic.items() if float(share) > 0]
    else:
        serving = [d.id for d in deployed]
    if len(serving) > 1:
        by_id = {d.id: d for d in deployed}
        shares = ", ".join(
            f"{i} (model {model_id(by_id[i].model) if i in by_id else '?'}"
            + (f", {float(traffic[i]):g}%" if i in traffic else "")
            + ")"
            for i in serving
        )
        raise MixedModelsError(
            f"{where} sends its traffic to {len(serving)} deployed models: {shares}. An audit's "
            "replies would mix models, and the predict API cannot address one of them: route "
            "100% of the traffic to one deployed model (gcloud ai endpoints update "
            "--traffic-split=ID=100) or audit an endpoint that serves one model",
            provider=provider,
            operation=operation,
        )
    if not serving:
        return None
    match = [d for d in deployed if d.id == serving[0]]
    return match[0].identity if match else None
