"""``LocalClassifier``: a ``requests`` client for the Vertex AI REST predict protocol.

Talks to ``isotope serve`` (or anything speaking the same protocol) without Google
credentials. Every reply names the model that answered (``Scores.model``, from the
reply's ``deployedModelId``/``model``/``modelVersionId``; ``isotope serve`` puts the model
file's digest in ``modelVersionId``); ``model_identity`` asks the endpoint resource, else
``/model``. Labels come from ``/model``, else from the first full reply, so a server that
speaks only the predict protocol works too.

Implements ``providers.classifier.Classifier``; failures become ``providers.errors``
types so the shared retry policy can tell transient from permanent. It does not retry
by itself unless given a ``retry`` policy: the ledger layer owns the one retry policy of
an audit.
"""

from __future__ import annotations

import base64
import math
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol
from urllib.parse import urljoin, urlsplit

import requests

from providers.errors import (
    BadImageError,
    BadReplyError,
    PermanentError,
    ProviderOptionError,
    RateLimitedError,
    TransientError,
    UnansweredError,
)
from providers.http.deadline import call_deadline, default_deadline, mount_deadline
from providers.http.sent import never_sent
from providers.query import QueryImage
from providers.redact import redact_url
from providers.retry_after import retry_after_seconds
from providers.scores import OutputMode, Scores
from providers.vertex.identity import (
    DeployedModel,
    deployed_models,
    deployment_identity,
    reply_identity,
    serving_identity,
)

PROVIDER = "local"
FALLBACK_MAX_PREDICTIONS = 100  # Vertex caps maxPredictions at 100 when labels are unknown
CONFIDENCE_SLACK = 1e-6  # float32 softmax may overshoot 1 by an ulp or two
FULL_SUM_TOLERANCE = 0.02  # a reply holding every label sums to 1 up to rounding


class PayloadTooLargeError(PermanentError):
    """HTTP 413: the request exceeded the server's size limit."""


class RedirectRefusedError(PermanentError):
    """The server answered with a redirect, which the client never follows.

    Following it would send the API key and every query image to wherever it points,
    and file that server's answers under this target.
    """


class RetryLike(Protocol):
    """What the client needs of ``providers.retry.RetryPolicy``."""

    def call(self, fn: Callable, *args: object, operation: str) -> object: ...


def _error_message(response: requests.Response) -> str:
    try:
        return str(response.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return response.text[:200] or response.reason


class LocalClassifier:
    """Classify images through a Vertex-protocol endpoint at ``base_url``.

    ``output`` picks what is asked for: ``full`` (every label, threshold 0), ``top_k``
    (``k`` labels) or ``threshold`` (labels scoring at least ``threshold``). A request
    carries at most ``max_batch`` images; a larger ``classify`` call sends its chunks
    on up to ``max_concurrency`` connections at once.

    Each call gets ``timeout_s`` per socket read and ``deadline_s`` (default four times
    that) for the whole reply; a redirect is an error (``RedirectRefusedError``).
    Credentials in ``base_url`` (``http://user:pass@host``) are used for the calls but
    never appear in ``base_url``, ``target`` or any message (``providers.redact``).
    """

    provider = PROVIDER

    def __init__(
        self,
        base_url: str,
        endpoint: str = "local",
        api_key: str | None = None,
        *,
        project: str = "local",
        location: str = "us-central1",
        output: OutputMode | str = OutputMode.FULL,
        k: int | None = None,
        threshold: float | None = None,
        max_batch: int = 64,
        max_concurrency: int = 4,
        timeout_s: float = 30.0,
        deadline_s: float | None = None,
        retry: RetryLike | None = None,
    ) -> None:
        self._url = base_url.rstrip("/")  # may hold credentials: used, never shown
        self.base_url = redact_url(self._url)
        parts = urlsplit(self._url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ProviderOptionError(
                f"local target {self.base_url!r} must be an http:// or https:// URL with a host"
            )
        if not (math.isfinite(timeout_s) and timeout_s > 0):
            raise ProviderOptionError(
                f"timeout must be a positive number of seconds, got {timeout_s}"
            )
        self.deadline_s = default_deadline(timeout_s) if deadline_s is None else deadline_s
        if not (math.isfinite(self.deadline_s) and self.deadline_s > 0):
            raise ProviderOptionError(
                f"deadline must be a positive number of seconds, got {deadline_s}"
            )
        self.output = OutputMode(output)
        if self.output is OutputMode.TOP_K and (k is None or k < 1):
            raise ProviderOptionError("top_k output needs k >= 1")
        if self.output is OutputMode.THRESHOLD and (threshold is None or not 0 <= threshold <= 1):
            raise ProviderOptionError("threshold output needs a threshold in [0, 1]")
        self.k = k
        self.threshold = threshold
        self.resource = f"projects/{project}/locations/{location}/endpoints/{endpoint}"
        self.max_batch = max_batch
        self.max_concurrency = max_concurrency
        self.timeout_s = timeout_s
        self.retry = retry
        self._api_key = api_key
        self._info: dict | None = None  # the server's /model document, if it has one
        self._info_known = False
        self._seen_labels: list[str] | None = None  # from a full reply, without /model
        self._deployed: dict[str, DeployedModel] = {}  # from the last endpoint resource
        self._lock = threading.Lock()
        self._local = threading.local()

    # -- Classifier protocol -------------------------------------------------------

    @property
    def target(self) -> str:
        """The endpoint's URL; which model answers there is ``Scores.model``."""
        return f"{self.base_url}/v1/{self.resource}"

    @property
    def parameters(self) -> Mapping[str, object]:
        """The request parameters, plus the output mode they implement."""
        return {"output": self.output.value, **self._request_parameters()}

    def model_identity(self) -> str | None:
        """The model serving now, as its replies will name it: from the endpoint
        resource (deployed models and traffic split), else from ``/model``; None when
        the server tells neither (then the replies tell).

        Raises ``MixedModelsError`` when the endpoint splits its traffic between models.
        """
        operation = "local get endpoint"
        try:
            resource = self._get(f"/v1/{self.resource}", operation)
        except RedirectRefusedError:
            raise
        except PermanentError:
            resource = None  # a predict-only server: no endpoint resource to read
        if resource is not None:
            split = resource.get("trafficSplit")
            traffic = split if isinstance(split, dict) else {}
            try:
                shares = {str(k): float(v) for k, v in traffic.items()}
            except (TypeError, ValueError) as exc:
                raise BadReplyError(
                    f"trafficSplit is not a map of percentages: {traffic!r:.200}",
                    provider=PROVIDER,
                    operation=operation,
                ) from exc
            deployed = deployed_models(resource)
            with self._lock:
                self._deployed = {d.id: d for d in deployed}
            found = serving_identity(
                deployed,
                shares,
                where=f"endpoint {self.target}",
                provider=PROVIDER,
                operation=operation,
            )
            if found is not None:
                return found
        info = self._model_info() or {}
        return deployment_identity(
            info.get("deployedModelId"), info.get("modelId"), info.get("modelVersionId")
        )

    def labels(self) -> list[str] | None:
        """Label names from the server's ``/model`` route, else those of a full reply
        seen so far; None before then."""
        info = self._model_info()
        listed = info.get("labels") if info is not None else None
        if isinstance(listed, list) and listed and all(isinstance(x, str) for x in listed):
            return list(listed)
        with self._lock:
            return list(self._seen_labels) if self._seen_labels else None

    def classify(self, images: Sequence[QueryImage]) -> list[Scores]:
        """Scores for each image, in order (chunks of ``max_batch``, sent concurrently)."""
        chunks = [images[i : i + self.max_batch] for i in range(0, len(images), self.max_batch)]
        if len(chunks) <= 1 or self.max_concurrency <= 1:
            results = [self._classify_chunk(chunk) for chunk in chunks]
        else:
            workers = min(self.max_concurrency, len(chunks))
            with ThreadPoolExecutor(workers, thread_name_prefix="local-client") as pool:
                results = list(pool.map(self._classify_chunk, chunks))
        return [scores for chunk in results for scores in chunk]

    # -- internals ------------------------------------------------------------------

    def _model_info(self) -> dict | None:
        """``/model`` of ``isotope serve``, fetched once; None for a server without it."""
        with self._lock:
            if self._info_known:
                return self._info
        try:
            info: dict | None = self._get("/model", "local model info")
        except RedirectRefusedError:
            raise
        except PermanentError:
            info = None  # a Vertex-protocol server without our info route
        with self._lock:
            self._info, self._info_known = info, True
        return info

    def _request_parameters(self) -> dict[str, float | int]:
        if self.output is OutputMode.TOP_K:
            return {"confidenceThreshold": 0.0, "maxPredictions": int(self.k or 1)}
        # Only the labels /model lists: labels learned from a reply must not change the
        # parameters (and with them the ledger keys) half-way through an audit.
        info = self._model_info()
        listed = info.get("labels") if info is not None else None
        labels = listed if isinstance(listed, list) and listed else None
        count = len(labels) if labels else FALLBACK_MAX_PREDICTIONS
        threshold = self.threshold if self.output is OutputMode.THRESHOLD else 0.0
        return {"confidenceThreshold": float(threshold or 0.0), "maxPredictions": count}

    def _session(self) -> requests.Session:
        # requests.Session is not thread-safe: one per worker thread.
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            mount_deadline(session)
            if self._api_key:
                session.headers["x-goog-api-key"] = self._api_key
            self._local.session = session
        return session

    def _classify_chunk(self, chunk: Sequence[QueryImage]) -> list[Scores]:
        if self.retry is not None:
            return self.retry.call(self._predict, chunk, operation="local predict")  # type: ignore[return-value]
        return self._predict(chunk)

    def _predict(self, chunk: Sequence[QueryImage]) -> list[Scores]:
        params = self._request_parameters()
        body = {
            "instances": [
                {"content": base64.b64encode(q.data).decode("ascii"), "mimeType": q.mime_type}
                for q in chunk
            ],
            "parameters": params,
        }
        try:
            reply = self._request("POST", f"/v1/{self.resource}:predict", "local predict", body)
        except PayloadTooLargeError:
            # Too large for the server: halve the batch rather than fail the audit.
            if len(chunk) == 1:
                raise
            half = len(chunk) // 2
            return self._predict(chunk[:half]) + self._predict(chunk[half:])
        return self._parse(reply, len(chunk))

    def _parse(self, reply: object, expected: int) -> list[Scores]:
        op = "local predict"
        if not isinstance(reply, dict):
            raise BadReplyError("the reply is not a JSON object", provider=PROVIDER, operation=op)
        predictions = reply.get("predictions")
        if not isinstance(predictions, list) or len(predictions) != expected:
            raise BadReplyError(
                f"expected {expected} predictions, got {type(predictions).__name__}",
                provider=PROVIDER,
                operation=op,
            )
        extra = {key: reply[key] for key in ("deployedModelId", "modelVersionId") if key in reply}
        with self._lock:
            known = dict(self._deployed)
        model = reply_identity(
            reply.get("deployedModelId"), reply.get("model"), reply.get("modelVersionId"), known
        )
        out = []
        for index, pred in enumerate(predictions):
            problem = _prediction_problem(pred)
            if problem is not None:
                raise BadReplyError(
                    f"prediction {index} {problem}", provider=PROVIDER, operation=op
                )
            names, confidences = pred["displayNames"], [float(c) for c in pred["confidences"]]
            out.append(
                Scores(
                    values=dict(zip(names, confidences, strict=True)),
                    mode=self.output,
                    k=self.k if self.output is OutputMode.TOP_K else None,
                    threshold=self.threshold if self.output is OutputMode.THRESHOLD else None,
                    model=model,
                    extra=extra,
                )
            )
        self._learn_labels(out)
        return out

    def _learn_labels(self, replies: Sequence[Scores]) -> None:
        # Without /model, a reply that sums to 1 holds every label the model has.
        if self.output is not OutputMode.FULL:
            return
        with self._lock:
            if self._seen_labels is not None:
                return
            for scores in replies:
                if abs(sum(scores.values.values()) - 1.0) <= FULL_SUM_TOLERANCE:
                    self._seen_labels = sorted(scores.values)
                    return

    def _get(self, path: str, operation: str) -> dict:
        reply = self._request("GET", path, operation, None)
        if not isinstance(reply, dict):
            raise BadReplyError("expected a JSON object", provider=PROVIDER, operation=operation)
        return reply

    def _request(self, method: str, path: str, operation: str, body: dict | None) -> object:
        url = self.base_url + path  # for messages; self._url may hold credentials
        started = time.monotonic()
        try:
            with call_deadline(self.deadline_s):
                response = self._session().request(
                    method,
                    self._url + path,
                    json=body,
                    timeout=(min(self.timeout_s, self.deadline_s), self.timeout_s),
                    allow_redirects=False,
                )
        except (
            requests.ConnectionError,
            requests.Timeout,
            requests.exceptions.ChunkedEncodingError,
        ) as exc:
            late = time.monotonic() - started >= self.deadline_s
            why = (
                f"no complete reply within the call's {self.deadline_s:g} s deadline"
                if late
                else exc.__class__.__name__
            )
            # Never connected: nothing reached the server. Otherwise it may have
            # processed (and billed) the request although no reply came back.
            error = TransientError if never_sent(exc) else UnansweredError
            raise error(f"{url}: {why}", provider=PROVIDER, operation=operation) from exc
        status = response.status_code
        if 300 <= status < 400:
            location = response.headers.get("Location", "")
            where = redact_url(urljoin(self._url + path, location)) if location else "nowhere"
            raise RedirectRefusedError(
                f"HTTP {status} from {url} redirects to {where}; redirects are not followed "
                "(the API key and the query images would go there too): give the final URL "
                "as the target",
                provider=PROVIDER,
                operation=operation,
            )
        if status >= 400:
            message = f"HTTP {status} from {url}: {_error_message(response)}"
            if status == 429:
                raise RateLimitedError(
                    message,
                    provider=PROVIDER,
                    operation=operation,
                    retry_after=retry_after_seconds(response.headers),
                )
            if status >= 500 or status == 408:
                raise TransientError(
                    message,
                    provider=PROVIDER,
                    operation=operation,
                    retry_after=retry_after_seconds(response.headers),
                )
            if status == 413:
                raise PayloadTooLargeError(message, provider=PROVIDER, operation=operation)
            if status == 400 and "instances[" in message:
                raise BadImageError(message, provider=PROVIDER, operation=operation)
            raise PermanentError(message, provider=PROVIDER, operation=operation)
        try:
            return response.json()
        except ValueError as exc:
            # Answered, with a body garbled or cut short on the way: as for Vertex and
            # Azure, no reply to use (the call may have been paid for); asked again, a
            # sound server sends a whole one.
            raise UnansweredError(
                f"{url}: HTTP 200 with a body that is not JSON",
                provider=PROVIDER,
                operation=operation,
            ) from exc


def _prediction_problem(pred: object) -> str | None:
    """Why one prediction cannot be trusted, or None. Booleans and strings are not scores."""
    if not isinstance(pred, dict):
        return "is not a JSON object"
    names, confidences = pred.get("displayNames"), pred.get("confidences")
    if not isinstance(names, list) or not isinstance(confidences, list):
        return "lacks displayNames/confidences lists"
    if len(names) != len(confidences):
        return f"has {len(names)} displayNames but {len(confidences)} confidences"
    for name, value in zip(names, confidences, strict=True):
        if not isinstance(name, str):
            return f"has a label name that is not a string: {name!r}"
        if isinstance(value, bool) or not isinstance(value, int | float):
            return f"has a confidence that is not a number for {name!r}: {value!r}"
        if not math.isfinite(value) or not -CONFIDENCE_SLACK <= value <= 1 + CONFIDENCE_SLACK:
            return f"has a confidence outside [0, 1] for {name!r}: {value!r}"
    if len(set(names)) != len(names):
        return "names a label more than once"
    return None
