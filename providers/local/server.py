"""A model server speaking the Vertex AI REST prediction protocol (FastAPI + uvicorn).

Routes: ``GET /v1/projects/{p}/locations/{l}/endpoints/{e}`` (the endpoint
resource), ``POST ...endpoints/{e}:predict``, ``GET /health``, ``GET /model``.
Errors use Google's JSON shape ``{"error": {"code", "message", "status"}}`` so the
real SDK raises its usual exceptions. Binds 127.0.0.1 unless told otherwise.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import socket
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from providers.local.batcher import MicroBatcher
from providers.local.predictor import Predictor, describe
from providers.local.protocol import (
    ProtocolError,
    parse_instances,
    parse_parameters,
    prediction,
)

DEFAULT_MAX_BODY = 1_500_000  # Vertex AI's online prediction payload limit (~1.5 MB)
DEFAULT_ENDPOINT = "local"
_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    404: "NOT_FOUND",
    413: "INVALID_ARGUMENT",
    500: "INTERNAL",
}


def google_error(code: int, message: str) -> JSONResponse:
    """An error reply in the shape Google APIs use."""
    status = _STATUS.get(code, "UNKNOWN")
    return JSONResponse({"error": {"code": code, "message": message, "status": status}}, code)


class BodyLimit:
    """ASGI middleware: refuse request bodies over ``limit`` bytes with a 413 JSON error.

    Checks ``Content-Length`` first, then counts streamed bytes (chunked uploads), so
    an oversized body is never buffered whole.
    """

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = dict(scope.get("headers") or [])
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.limit:
            await self._refuse(scope, receive, send)
            return
        chunks: list[Message] = []
        total = 0
        while True:
            message = await receive()
            chunks.append(message)
            if message["type"] != "http.request":
                break
            total += len(message.get("body", b""))
            if total > self.limit:
                await self._refuse(scope, receive, send)
                return
            if not message.get("more_body", False):
                break

        async def replay() -> Message:
            return chunks.pop(0) if chunks else await receive()

        await self.app(scope, replay, send)

    async def _refuse(self, scope: Scope, receive: Receive, send: Send) -> None:
        reply = google_error(413, f"request body exceeds the {self.limit}-byte limit")
        await reply(scope, receive, send)


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
                    "modelVersionId": "1",
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
        try:
            params = parse_parameters(body.get("parameters") if isinstance(body, dict) else None)
            blobs = parse_instances(body, max_instances)
            images = await run_in_threadpool(_decode_all, predictor, blobs)
        except ProtocolError as exc:
            return google_error(400, str(exc))
        probabilities = await asyncio.wrap_future(batcher.submit(images))
        return {
            "predictions": [prediction(p, predictor.labels, params) for p in probabilities],
            "deployedModelId": deployed_id,
            "model": f"{parent}/models/{model_id}",
            "modelDisplayName": model_path.stem,
            "modelVersionId": "1",
        }

    return BodyLimit(app, max_body_bytes)  # type: ignore[return-value]


def _decode_all(predictor: Predictor, blobs: list[bytes]) -> np.ndarray:
    images = []
    for index, blob in enumerate(blobs):
        try:
            images.append(predictor.decode(blob))
        except ValueError as exc:
            raise ProtocolError(f"instances[{index}]: {exc}") from exc
    return np.stack(images)


def serve(model_path: Path, *, host: str = "127.0.0.1", port: int = 8080, **options) -> None:
    """Serve in the foreground until SIGINT/SIGTERM (uvicorn shuts down gracefully)."""
    app = create_app(model_path, **options)
    uvicorn.run(app, host=host, port=port, log_level="info", access_log=False, lifespan="on")


class BackgroundServer:
    """Run an ASGI app with uvicorn in a daemon thread on a free port (tests, demo).

    Use as a context manager; ``base_url`` is ``http://HOST:PORT``.
    """

    def __init__(self, app: ASGIApp, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind((host, port))
        self.host = host
        self.port = self._sock.getsockname()[1]
        config = uvicorn.Config(app, log_level="warning", access_log=False, lifespan="on")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run, kwargs={"sockets": [self._sock]}, daemon=True
        )

    @property
    def base_url(self) -> str:
        """Where the server listens."""
        return f"http://{self.host}:{self.port}"

    def start(self, timeout: float = 30.0) -> BackgroundServer:
        """Start serving (once; later calls return at once) when it accepts connections."""
        if self._thread.is_alive() or self._server.started:
            return self
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"local server on {self.base_url} did not start")
            time.sleep(0.01)
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Shut down gracefully (finishes in-flight requests) and release the port."""
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout)
        self._sock.close()

    def __enter__(self) -> BackgroundServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


def serve_in_background(model_path: Path, **options) -> BackgroundServer:
    """Start ``create_app(model_path, **options)`` on a free loopback port."""
    return BackgroundServer(create_app(model_path, **options)).start()
