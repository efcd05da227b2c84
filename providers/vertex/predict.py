"""``VertexClassifier``: a deployed Vertex AI image classifier behind the ``Classifier`` protocol.

Each request asks for every label (``maxPredictions`` = label count, threshold 0) so the
audit gets probabilities; an endpoint that still returns fewer labels is read as top-K.
Retries are not done here: errors are raised as ``providers.errors`` types for the shared
retry policy (the ledger's), which also makes sure no query is billed twice.

Every reply names the deployed model that served it (``Scores.model``, see
``providers.vertex.identity``); ``model_identity`` reads the endpoint resource (free) and
refuses an endpoint whose traffic is split between deployed models.

Every call has an overall deadline besides the SDK's per-read ``timeout``
(``providers.vertex.deadline``): a reply trickling in a byte at a time ends at the
deadline as ``UnansweredError``, counted as spent (``providers.vertex.errors``).
"""

from __future__ import annotations

import math
import threading
from collections.abc import Mapping, Sequence
from typing import Any

from providers.errors import BadImageError, BadReplyError, PermanentError, ProviderOptionError
from providers.http.deadline import call_deadline, default_deadline, note_deadline
from providers.query import QueryImage
from providers.scores import OutputMode, Scores
from providers.vertex.connection import VertexConnection
from providers.vertex.deadline import bind_prediction_client, bound_method
from providers.vertex.errors import PROVIDER, translate
from providers.vertex.identity import DeployedModel, reply_identity, serving_identity
from providers.vertex.payload import REQUEST_LIMIT, Instance, pack, to_instance

DEFAULT_MAX_PREDICTIONS = 1000
"""``maxPredictions`` when the label count is unknown: more than any endpoint returns."""
_FULL_SUM_TOLERANCE = 0.02  # confidences of a full softmax reply sum to 1 up to rounding


def endpoint_resource_name(endpoint: str, *, project: str | None, location: str) -> str:
    """``projects/P/locations/L/endpoints/E`` from a full name or a bare endpoint ID."""
    if endpoint.startswith("projects/"):
        parts = endpoint.split("/")
        if len(parts) != 6 or parts[2] != "locations" or parts[4] != "endpoints":
            raise ProviderOptionError(
                f"not an endpoint resource name (projects/P/locations/L/endpoints/E): {endpoint}"
            )
        return endpoint
    if not endpoint or "/" in endpoint:
        raise ProviderOptionError(f"not an endpoint ID or resource name: {endpoint!r}")
    if not project:
        raise ProviderOptionError(
            f"endpoint {endpoint!r} is a bare ID: give --project, or the full resource name "
            "projects/P/locations/L/endpoints/E"
        )
    return f"projects/{project}/locations/{location}/endpoints/{endpoint}"


class VertexClassifier:
    """Classify images with a model deployed on a Vertex AI endpoint.

    ``endpoint_name`` is ``projects/P/locations/L/endpoints/E`` or a bare ID with
    ``project``. ``api_endpoint`` (e.g. ``http://127.0.0.1:8080``) and ``transport``
    ("rest" or "grpc") point the SDK at a private or local server; plain HTTP uses
    anonymous credentials, everything else Application Default Credentials.
    ``labels`` (every label the model knows) fixes ``maxPredictions``; without it the
    labels are learned from the first full reply. ``timeout`` bounds connecting and
    each read of a reply over REST, the whole call over gRPC (the SDK sets none);
    ``deadline_s`` (default four times ``timeout``) bounds each whole call over REST.
    ``max_instances`` caps instances per request; it shrinks by itself when the
    endpoint rejects a request for carrying too many.
    """

    provider = PROVIDER

    def __init__(
        self,
        endpoint_name: str,
        *,
        project: str | None = None,
        location: str = "us-central1",
        api_endpoint: str | None = None,
        transport: str | None = None,
        labels: Sequence[str] | None = None,
        timeout: float = 60.0,
        deadline_s: float | None = None,
        max_instances: int = 8,
        max_concurrency: int = 4,
        request_limit: int = REQUEST_LIMIT,
    ) -> None:
        if not (math.isfinite(timeout) and timeout > 0):
            raise ProviderOptionError(f"timeout must be positive, got {timeout}")
        self.deadline_s = default_deadline(timeout) if deadline_s is None else float(deadline_s)
        if not (math.isfinite(self.deadline_s) and self.deadline_s >= timeout):
            raise ProviderOptionError(
                f"deadline must be a number of seconds at least the timeout ({timeout:g}), "
                f"got {deadline_s}"
            )
        if max_instances < 1 or max_concurrency < 1:
            raise ProviderOptionError("max_instances and max_concurrency must be at least 1")
        self.target = endpoint_resource_name(endpoint_name, project=project, location=location)
        self._connection = VertexConnection(
            project=project, location=location, api_endpoint=api_endpoint, transport=transport
        ).for_resource(self.target)
        self._labels = sorted(labels) if labels else None
        self._max_predictions = len(self._labels) if self._labels else DEFAULT_MAX_PREDICTIONS
        self.timeout = float(timeout)
        self.max_batch = max_instances
        self.max_concurrency = max_concurrency
        self._request_limit = request_limit
        self._endpoint = None
        self._fetched = False
        self._deployed: dict[str, DeployedModel] = {}  # from the last endpoint resource
        self._lock = threading.Lock()

    @property
    def parameters(self) -> Mapping[str, object]:
        """Predict parameters; they never change, so ledger keys stay stable."""
        return {"confidenceThreshold": 0.0, "maxPredictions": self._max_predictions}

    def model_identity(self) -> str | None:
        """The deployed model that receives the endpoint's traffic, from the endpoint
        resource (a free GET; None when nothing is deployed).

        Raises ``MixedModelsError`` when the traffic is split between deployed models.
        """
        operation = f"vertex get endpoint {self.target}"
        endpoint = self._sdk_endpoint()
        resource = self._get_endpoint(endpoint, operation)
        deployed = [
            DeployedModel(str(d.id), str(d.model), str(d.model_version_id))
            for d in resource.deployed_models
        ]
        with self._lock:
            endpoint._gca_resource = resource  # saves the SDK its own fetch before predict
            self._fetched = True
            self._deployed = {d.id: d for d in deployed}
        return serving_identity(
            deployed,
            {str(k): float(v) for k, v in resource.traffic_split.items()},
            where=f"endpoint {self.target}",
            provider=PROVIDER,
            operation=operation,
        )

    def labels(self) -> list[str] | None:
        """Every label, once known (given, or seen in a full reply); else None."""
        with self._lock:
            return list(self._labels) if self._labels else None

    def classify(self, images: Sequence[QueryImage]) -> list[Scores]:
        """Score each image; requests carry as many instances as fit."""
        instances = [to_instance(image, self._request_limit) for image in images]
        scores: list[Scores] = []
        for group in pack(instances, max_instances=self.max_batch, limit=self._request_limit):
            scores.extend(self._classify_group([instances[i] for i in group]))
        return scores

    def _classify_group(self, instances: list[Instance]) -> list[Scores]:
        try:
            return self._predict(instances)
        except PermanentError as exc:
            # An endpoint that takes fewer instances per request says so with a 400;
            # halve the request and remember the smaller size.
            about_images = isinstance(exc, BadReplyError | BadImageError)
            if len(instances) == 1 or about_images or "instance" not in str(exc).lower():
                raise
            half = len(instances) // 2
            self.max_batch = max(1, min(self.max_batch, half))
            return self._classify_group(instances[:half]) + self._classify_group(instances[half:])

    def _sdk_endpoint(self) -> Any:
        with self._lock:
            if self._endpoint is None:
                operation = f"vertex connect {self.target}"
                with self._connection.session(operation=operation) as aiplatform:
                    endpoint = aiplatform.Endpoint(self.target)
                    # The prediction client is built lazily from global settings: build it
                    # now, while this connection's settings are the global ones.
                    bind_prediction_client(endpoint)
                self._endpoint = endpoint
            return self._endpoint

    def _fetch_resource(self, endpoint: Any, operation: str) -> None:
        # Before its first predict the SDK fetches the endpoint resource with its own
        # retry (up to 120 s, invisible to our retry policy and timeout). Fetch it here
        # once instead, with our timeout and no retry, so failures surface at once.
        with self._lock:
            if not self._fetched:
                endpoint._gca_resource = self._get_endpoint(endpoint, operation)
                self._fetched = True

    def _get_endpoint(self, endpoint: Any, operation: str) -> Any:
        """The endpoint resource (a free GET) within the call's deadline; failures typed
        for the retry policy, as ``operation``."""
        with call_deadline(self.deadline_s) as deadline:
            try:
                get = bound_method(endpoint.api_client, "get_endpoint")
                return get(name=self.target, timeout=self.timeout, retry=None)
            except Exception as exc:  # every SDK/transport failure
                error = note_deadline(
                    translate(exc, operation=operation), deadline, self.deadline_s
                )
                raise error from exc

    def _predict(self, instances: list[Instance]) -> list[Scores]:
        operation = f"vertex predict {self.target}"
        endpoint = self._sdk_endpoint()
        self._fetch_resource(endpoint, operation)
        with call_deadline(self.deadline_s) as deadline:
            try:
                reply = endpoint.predict(
                    instances=[instance.body for instance in instances],
                    parameters=dict(self.parameters),
                    timeout=self.timeout,
                )
            except Exception as exc:  # every SDK/transport failure, typed for the retry policy
                error = note_deadline(
                    translate(exc, operation=operation), deadline, self.deadline_s
                )
                raise error from exc
        predictions = list(reply.predictions or [])
        if len(predictions) != len(instances):
            raise BadReplyError(
                f"{len(predictions)} predictions for {len(instances)} instances",
                provider=PROVIDER,
                operation=operation,
            )
        extra = {
            "deployed_model_id": reply.deployed_model_id,
            "model_version_id": reply.model_version_id,
        }
        with self._lock:
            known = dict(self._deployed)
        model = reply_identity(
            reply.deployed_model_id, reply.model_resource_name, reply.model_version_id, known
        )
        return [self._parse(p, extra, model, operation=operation) for p in predictions]

    def _parse(
        self, prediction: object, extra: dict, model: str | None, *, operation: str
    ) -> Scores:
        def bad(problem: str) -> BadReplyError:
            return BadReplyError(problem, provider=PROVIDER, operation=operation)

        if not isinstance(prediction, Mapping):
            raise bad(f"prediction is not an object: {prediction!r:.200}")
        names = prediction.get("displayNames")
        confidences = prediction.get("confidences")
        if not isinstance(names, list) or not isinstance(confidences, list):
            raise bad(f"prediction lacks displayNames/confidences lists: {prediction!r:.200}")
        if len(names) != len(confidences) or not names:
            raise bad(f"{len(names)} displayNames but {len(confidences)} confidences")
        values: dict[str, float] = {}
        for name, confidence in zip(names, confidences, strict=True):
            if not isinstance(name, str) or name in values:
                raise bad(f"bad or repeated label {name!r}")
            if (
                not isinstance(confidence, int | float)
                or not math.isfinite(confidence)
                or not 0.0 <= confidence <= 1.0
            ):
                raise bad(f"confidence of {name!r} is not a probability: {confidence!r}")
            values[name] = float(confidence)
        with self._lock:
            if self._labels is not None:
                unknown = set(values) - set(self._labels)
                if unknown:
                    raise bad(f"labels the model does not have: {sorted(unknown)}")
                full = len(values) == len(self._labels)
            else:
                full = abs(sum(values.values()) - 1.0) <= _FULL_SUM_TOLERANCE
                if full:
                    self._labels = sorted(values)
        if full:
            return Scores(values=values, mode=OutputMode.FULL, model=model, extra=extra)
        return Scores(values=values, mode=OutputMode.TOP_K, k=len(values), model=model, extra=extra)
