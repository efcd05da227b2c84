"""A model server speaking the Vertex AI REST prediction protocol (FastAPI + uvicorn).

Routes: ``GET /v1/projects/{p}/locations/{l}/endpoints/{e}`` (the endpoint
resource), ``POST ...endpoints/{e}:predict``, ``GET /health``, ``GET /model``.
Errors use Google's JSON shape ``{"error": {"code", "message", "status"}}`` so the
real SDK raises its usual exceptions — an unexpected failure too (500, logged with its
traceback, no internals in the reply). Binds 127.0.0.1 unless told otherwise
(``providers.local.bind`` refuses a blank ``--host``).

Limits per request: the body (``max_body_bytes``, 1.5 MB like Vertex AI), the time to
receive it (``body_timeout_s``) and how many bodies are received at once
(``max_concurrent_uploads``) — ``providers.http.body_limit`` —; how many
images (``max_instances``), the pixels of one image (``predictor.MAX_PIXELS``) and of
all of them together (``max_request_pixels``, checked from the headers before any
image is decoded: 413, so a client halves its batch).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool

from providers.http.background_server import BackgroundServer
from providers.http.body_limit import BodyLimit
from providers.http.foreground import serve_forever
from providers.local.batcher import MicroBatcher
from providers.local.bind import check_host
from providers.local.google_error import google_error
from providers.local.predictor import Predictor, describe, header_pixels
from providers.local.protocol import (
    ProtocolError,
    parse_instances,
    parse_parameters,
    prediction,
)
from providers.local.upload_refusal import upload_refusal

DEFAULT_MAX_BODY = 1_500_000  # Vertex AI's online prediction payload limit (~1.5 MB)
DEFAULT_BODY_TIMEOUT_S = 10.0  # 1.5 MB at 1.2 Mbit/s; a stalled upload is cut off after it
DEFAULT_MAX_UPLOADS = 64  # bodies received at once: 64 x 1.5 MB buffered at most
# What 1.5 MB of photos decodes to (about 8 megapixels of JPEG) with room to spare;
# eight 25-megapixel PNGs of blank pixels fit in 1.5 MB and would take seconds of CPU.
DEFAULT_MAX_REQUEST_PIXELS = 32_000_000
DEFAULT_ENDPOINT = "local"
_log = logging.getLogger(__name__)


class RequestTooLargeError(ProtocolError):
    """The images of one request decode to more pixels than the server allows (413)."""


def _numeric_id(*parts: str) -> str:
    # Vertex resource ids are numeric strings; derive stable ones from the model file.
    return str(int(hashlib.sha256("/".join(parts).encode()).hexdigest()[:12], 16))


def _rfc3339(timestamp: float) -> str:
    return datetime.fromtimestamp(timestamp, UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def create_app(
    model_path: Path,
    *,
    endpoint_id: str = DEFAULT_ENDPOINT,
    api_key: str | None = None,
    device: str = "auto",
    max_body_bytes: int = DEFAULT_MAX_BODY,
    max_instances: int = 1024,
    max_batch_images: int = 512,
    body_timeout_s: float = DEFAULT_BODY_TIMEOUT_S,
    max_concurrent_uploads: int = DEFAULT_MAX_UPLOADS,
    max_request_pixels: int = DEFAULT_MAX_REQUEST_PIXELS,
) -> FastAPI:
    """A FastAPI app serving ``model_path`` as Vertex AI endpoint ``endpoint_id``.

    With ``api_key`` every route but ``/health`` needs header ``x-goog-api-key`` (or
    ``Authorization: Bearer``) equal to it. The model loads here, so a bad file fails
    before the server starts.
    """
    model_path = Path(model_path)
    predictor = Predictor(model_path, device=device)
    batcher = MicroBatcher(predictor.predict, max_images=max_batch_images)
    digest = hashlib.sha256(model_path.read_bytes()).hexdigest()
    # The version names the file's content: a retrained model at the same path is another one.
    version = f"sha256:{digest}"
    model_id = _numeric_id("model", digest)
    deployed_id = _numeric_id("deployed", digest, endpoint_id)
    created = _rfc3339(model_path.stat().st_mtime)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        batcher.start()
        try:
            yield
        finally:
            batcher.close()

    app = FastAPI(
        title="isotope local model server",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )
    app.state.batcher = batcher
    app.state.predictor = predictor

    @app.exception_handler(Exception)
    async def unexpected(_: Request, exc: Exception) -> JSONResponse:
        # A bug: logged with its traceback for the operator, never shown to clients.
        _log.error("unexpected failure answering a request", exc_info=exc)
        return google_error(500, "internal error in the model server (see its log)")

    def authorized(request: Request) -> bool:
        if api_key is None:
            return True
        given = request.headers.get("x-goog-api-key", "")
        bearer = request.headers.get("authorization", "")
        if not given and bearer.lower().startswith("bearer "):
            given = bearer[7:].strip()
        return hmac.compare_digest(given.encode(), api_key.encode())

    def endpoint_or_error(request: Request, project: str, location: str, endpoint: str):
        if not authorized(request):
            return None, google_error(401, "missing or wrong API key")
        if endpoint != endpoint_id:
            name = f"projects/{project}/locations/{location}/endpoints/{endpoint}"
            return None, google_error(404, f"Endpoint {name} not found")
        return f"projects/{project}/locations/{location}", None

    @app.get("/health")
    async def health() -> dict:
        return {"status": "ok"}

    @app.get("/model")
    async def model_info(request: Request):
        if not authorized(request):
            return google_error(401, "missing or wrong API key")
        return {
            **describe(predictor.meta),
            "endpoint": endpoint_id,
            "modelId": model_id,
            "deployedModelId": deployed_id,
            "modelVersionId": version,
            "sha256": digest,
        }

    @app.get("/v1/projects/{project}/locations/{location}/endpoints/{endpoint}")
    async def get_endpoint(project: str, location: str, endpoint: str, request: Request):
        parent, error = endpoint_or_error(request, project, location, endpoint)
        if error is not None:
            return error
        model = f"{parent}/models/{model_id}"
        return {
            "name": f"{parent}/endpoints/{endpoint}",
            "displayName": endpoint,
            "deployedModels": [
                {
                    "id": deployed_id,
                    "model": model,
                    "displayName": model_path.stem,
                    "modelVersionId": version,
                    "createTime": created,
                }
            ],
            "trafficSplit": {deployed_id: 100},
            "etag": digest[:16],
            "createTime": created,
            "updateTime": created,
        }

    @app.post("/v1/projects/{project}/locations/{location}/endpoints/{endpoint}:predict")
    async def predict(project: str, location: str, endpoint: str, request: Request):
        parent, error = endpoint_or_error(request, project, location, endpoint)
        if error is not None:
            return error
        try:
            body = json.loads(await request.body())
        except (json.JSONDecodeError, UnicodeDecodeError):
            return google_error(400, "request body is not valid JSON")
        except RecursionError:
            return google_error(400, "request body is JSON nested too deeply")
        try:
            params = parse_parameters(body.get("parameters") if isinstance(body, dict) else None)
            blobs = parse_instances(body, max_instances)
            images = await run_in_threadpool(_decode_all, predictor, blobs, max_request_pixels)
        except RequestTooLargeError as exc:
            return google_error(413, str(exc))
        except ProtocolError as exc:
            return google_error(400, str(exc))
        probabilities = await asyncio.wrap_future(batcher.submit(images))
        return {
            "predictions": [prediction(p, predictor.labels, params) for p in probabilities],
            "deployedModelId": deployed_id,
            "model": f"{parent}/models/{model_id}",
            "modelDisplayName": model_path.stem,
            "modelVersionId": version,
        }

    guarded = BodyLimit(
        app,
        max_bytes=max_body_bytes,
        reply=upload_refusal,
        timeout_s=body_timeout_s,
        max_concurrent=max_concurrent_uploads,
    )
    return guarded  # type: ignore[return-value]


def _decode_all(predictor: Predictor, blobs: list[bytes], max_pixels: int) -> np.ndarray:
    sizes = []
    for index, blob in enumerate(blobs):
        try:
            sizes.append(header_pixels(blob))
        except ValueError as exc:
            raise ProtocolError(f"instances[{index}]: {exc}") from exc
    if sum(sizes) > max_pixels:
        raise RequestTooLargeError(
            f"the {len(blobs)} images decode to {sum(sizes)} pixels, over the per-request "
            f"limit of {max_pixels}; send fewer or smaller images"
        )
    images = []
    for index, blob in enumerate(blobs):
        try:
            images.append(predictor.decode(blob))
        except ValueError as exc:
            raise ProtocolError(f"instances[{index}]: {exc}") from exc
    return np.stack(images)


def serve(model_path: Path, *, host: str = "127.0.0.1", port: int = 8080, **options) -> None:
    """Serve in the foreground until SIGINT/SIGTERM (uvicorn shuts down gracefully).

    Raises ``ProviderOptionError`` for a blank or malformed ``host`` before loading
    anything (``providers.local.bind.check_host``).
    """
    check_host(host)
    app = create_app(model_path, **options)
    serve_forever(app, host=host, port=port)


def serve_in_background(model_path: Path, **options) -> BackgroundServer:
    """Start ``create_app(model_path, **options)`` on a free loopback port."""
    return BackgroundServer(create_app(model_path, **options)).start()
