"""``LocalClassifier``: a ``requests`` client for the Vertex AI REST predict protocol.

Talks to ``isotope serve`` (or anything speaking the same protocol) without Google
credentials. Implements ``providers.classifier.Classifier``; failures become
``providers.errors`` types so the shared retry policy can tell transient from
permanent. It does not retry by itself unless given a ``retry`` policy: the ledger
layer owns the one retry policy of an audit.
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
)
from providers.local.deadline import DeadlineAdapter, call_deadline
from providers.query import QueryImage
from providers.redact import redact_url
from providers.scores import OutputMode, Scores

PROVIDER = "local"
FALLBACK_MAX_PREDICTIONS = 100  # Vertex caps maxPredictions at 100 when labels are unknown


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


def _retry_after(response: requests.Response) -> float | None:
    value = response.headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None  # an HTTP date; the retry policy's own backoff applies


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
            raise ProviderOptionError(f"timeout must be a positive number of seconds, got {timeout_s}")
        self.deadline_s = 4 * timeout_s if deadline_s is None else deadline_s
        if not (math.isfinite(self.deadline_s) and self.deadline_s > 0):
            raise ProviderOptionError(f"deadline must be a positive number of seconds, got {deadline_s}")
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
        self._labels: list[str] | None = None
        self._labels_known = False
        self._deployed: str | None = None
        self._local = threading.local()

    # -- Classifier protocol -------------------------------------------------------

    @property
    def target(self) -> str:
        """Endpoint URL plus deployed model id, so a redeployed model is a new target."""
        if self._deployed is None:
            resource = self._get(f"/v1/{self.resource}", "local get endpoint")
            models = resource.get("deployedModels") or [{}]
            self._deployed = str(models[0].get("id", "unknown"))
        return f"{self.base_url}/v1/{self.resource}@{self._deployed}"

    @property
    def parameters(self) -> Mapping[str, object]:
        """The request parameters, plus the output mode they implement."""
        return {"output": self.output.value, **self._request_parameters()}

    def model_identity(self) -> str | None:
        """None: the model's identity is learned from each reply's ``Scores.model``."""
        return None

    def labels(self) -> list[str] | None:
        """Label names from the server's ``/model`` route; None if it has none."""
        if not self._labels_known:
            try:
                info = self._get("/model", "local model info")
                self._labels = [str(label) for label in info["labels"]]
            except RedirectRefusedError:
                raise
            except PermanentError:
                self._labels = None  # a Vertex-protocol server without our info route
            except (KeyError, TypeError) as exc:
                raise BadReplyError(
                    "model info lacks a label list", provider=PROVIDER, operation="local model info"
                ) from exc
            self._labels_known = True
        return self._labels

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

    def _request_parameters(self) -> dict[str, float | int]:
        if self.output is OutputMode.TOP_K:
            return {"confidenceThreshold": 0.0, "maxPredictions": int(self.k or 1)}
        labels = self.labels()
        count = len(labels) if labels else FALLBACK_MAX_PREDICTIONS
        threshold = self.threshold if self.output is OutputMode.THRESHOLD else 0.0
        return {"confidenceThreshold": float(threshold or 0.0), "maxPredictions": count}

    def _session(self) -> requests.Session:
        # requests.Session is not thread-safe: one per worker thread.
        session = getattr(self._local, "session", None)
        if session is None:
            session = requests.Session()
            session.mount("http://", DeadlineAdapter())
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
        predictions = reply.get("predictions") if isinstance(reply, dict) else None
        if not isinstance(predictions, list) or len(predictions) != expected:
            raise BadReplyError(
                f"expected {expected} predictions, got {type(predictions).__name__}",
                provider=PROVIDER,
                operation=op,
            )
        extra = {key: reply[key] for key in ("deployedModelId", "modelVersionId") if key in reply}
        out = []
        for index, pred in enumerate(predictions):
            try:
                names = [str(n) for n in pred["displayNames"]]
                confidences = [float(c) for c in pred["confidences"]]
            except (KeyError, TypeError, ValueError) as exc:
                raise BadReplyError(
                    f"prediction {index} lacks displayNames/confidences",
                    provider=PROVIDER,
                    operation=op,
                ) from exc
            if len(names) != len(confidences) or not all(map(math.isfinite, confidences)):
                raise BadReplyError(
                    f"prediction {index} has mismatched or non-finite confidences",
                    provider=PROVIDER,
                    operation=op,
                )
            out.append(
                Scores(
                    values=dict(zip(names, confidences, strict=True)),
                    mode=self.output,
                    k=self.k if self.output is OutputMode.TOP_K else None,
                    threshold=self.threshold if self.output is OutputMode.THRESHOLD else None,
                    extra=extra,
                )
            )
        return out

    def _get(self, path: str, operation: str) -> dict:
        reply = self._request("GET", path, operation, None)
        if not isinstance(reply, dict):
            raise BadReplyError("expected a JSON object", provider=PROVIDER, operation=operation)
        return reply

    def _request(self, method: str, path: str, operation: str, body: dict | None) -> object:
        url = self.base_url + path
        try:
            response = self._session().request(method, url, json=body, timeout=self.timeout_s)
        except (requests.ConnectionError, requests.Timeout) as exc:
            raise TransientError(
                f"{url}: {exc.__class__.__name__}", provider=PROVIDER, operation=operation
            ) from exc
        status = response.status_code
        if status >= 400:
            message = f"HTTP {status} from {url}: {_error_message(response)}"
            if status == 429:
                raise RateLimitedError(
                    message,
                    provider=PROVIDER,
                    operation=operation,
                    retry_after=_retry_after(response),
                )
            if status >= 500 or status == 408:
                raise TransientError(
                    message,
                    provider=PROVIDER,
                    operation=operation,
                    retry_after=_retry_after(response),
                )
            if status == 413:
                raise PayloadTooLargeError(message, provider=PROVIDER, operation=operation)
            if status == 400 and "instances[" in message:
                raise BadImageError(message, provider=PROVIDER, operation=operation)
            raise PermanentError(message, provider=PROVIDER, operation=operation)
        try:
            return response.json()
        except ValueError as exc:
            raise BadReplyError(
                f"{url}: reply is not JSON", provider=PROVIDER, operation=operation
            ) from exc
