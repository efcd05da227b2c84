"""The local face engine's HTTP server: Rekognition's JSON 1.1 protocol (FastAPI + uvicorn).

``POST /`` with ``X-Amz-Target: RekognitionService.<Operation>`` runs an operation of
``RekognitionService``; ``GET /health`` says it is up. The server checks no
signature: it binds 127.0.0.1 unless told otherwise, and warns when it is not. Layers,
outermost first: fault injection (``FaultInjector``, idle unless given a plan), the body
size cap (``BodyLimit``), the app. An unexpected exception is logged with its traceback
and answered ``InternalServerError`` (HTTP 500); request bodies are never logged.
"""

from __future__ import annotations

import ipaddress
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI, Request
from starlette.concurrency import run_in_threadpool
from starlette.responses import Response

from providers.faces_local import wire
from providers.faces_local.engine import FaceEngine
from providers.faces_local.faults import FaultInjector, FaultPlan
from providers.faces_local.service import RekognitionService
from providers.faces_local.store import FaceStore
from providers.http.background_server import BackgroundServer
from providers.http.body_limit import BodyLimit, Refusal
from providers.http.foreground import serve_forever

DEFAULT_PORT = 8090
# Image.Bytes of 5 MB is 7 MB as base64, plus the JSON around it.
DEFAULT_MAX_BODY = (wire.MAX_IMAGE_BYTES * 4) // 3 + 64 * 1024
logger = logging.getLogger("isotope.faces")


def default_workers() -> int:
    """Model sets to load when not told: one per CPU core, at most 4."""
    return max(1, min(4, os.cpu_count() or 1))


def create_service(
    data_dir: Path,
    *,
    engine: FaceEngine | None = None,
    workers: int | None = None,
    region: str = "us-east-1",
    max_pixels: int = wire.DEFAULT_MAX_PIXELS,
) -> RekognitionService:
    """The operations over the collections in ``data_dir``.

    ``engine`` shares already loaded models (tests load them once); otherwise one is
    built with ``workers`` model sets.
    """
    engine = engine or FaceEngine(workers=workers or default_workers())
    return RekognitionService(engine, FaceStore(data_dir), region=region, max_pixels=max_pixels)


def create_app(
    service: RekognitionService,
    *,
    faults: FaultPlan | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY,
) -> FaultInjector:
    """The ASGI app serving ``service``; it closes the service's store on shutdown.

    The returned ``FaultInjector`` is the outermost layer: set its ``plan`` to inject
    faults.
    """
    engine = service.engine

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            service.store.close()

    app = FastAPI(
        title="isotope local face engine",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
    )

    @app.get("/health")
    async def health() -> dict:
        return {"status": "ok", "face_model_version": engine.version}

    @app.post("/")
    async def dispatch(request: Request) -> Response:
        target = request.headers.get("x-amz-target", "")
        if not target.startswith(wire.TARGET_PREFIX):
            error = wire.AwsError(
                "UnknownOperationException",
                f"X-Amz-Target must be {wire.TARGET_PREFIX}<Operation>, got {target!r}",
            )
            return wire.error_reply(error)
        operation = target[len(wire.TARGET_PREFIX) :]
        try:
            body = wire.parse_body(await request.body())
            reply = await run_in_threadpool(service.handle, operation, body)
        except wire.AwsError as exc:
            return wire.error_reply(exc)
        except Exception:  # a bug: log it loudly, answer as the real service would
            logger.exception("local face engine failed on %s", operation)
            return wire.error_reply(
                wire.AwsError("InternalServerError", "internal error in the local face engine", 500)
            )
        return wire.json_reply(reply)

    return FaultInjector(BodyLimit(app, max_bytes=max_body_bytes, reply=_refusal), faults)


def _refusal(refusal: Refusal, message: str) -> Response:
    # The only large thing a Rekognition request carries is its image.
    return wire.error_reply(wire.AwsError("ImageTooLargeException", message))


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


def serve(
    host: str = "127.0.0.1",
    port: int = DEFAULT_PORT,
    data_dir: Path | None = None,
    *,
    workers: int | None = None,
) -> None:
    """Serve collections in ``data_dir`` in the foreground until SIGINT/SIGTERM.

    ``data_dir`` is required (the CLI passes its default). Anyone who can reach a
    non-loopback ``host`` can read and change the collections: the server checks no
    credentials.
    """
    if data_dir is None:
        raise ValueError("serve needs a data folder for its collections")
    if not _is_loopback(host):
        logger.warning(
            "the face engine on %s checks no credentials: anyone who reaches it can read "
            "and change its collections",
            host,
        )
    app = create_app(create_service(Path(data_dir), workers=workers))
    serve_forever(app, host=host, port=port)


class FaceServer(BackgroundServer):
    """A local face engine running in a background thread (``serve_in_background``).

    ``faults`` is its fault injector (set ``faults.plan``); ``service`` its operations.
    """

    def __init__(self, service: RekognitionService, faults: FaultInjector) -> None:
        super().__init__(faults)
        self.faults = faults
        self.service = service


def serve_in_background(
    data_dir: Path,
    *,
    engine: FaceEngine | None = None,
    workers: int | None = None,
    faults: FaultPlan | None = None,
    max_body_bytes: int = DEFAULT_MAX_BODY,
    max_pixels: int = wire.DEFAULT_MAX_PIXELS,
) -> FaceServer:
    """Serve the collections in ``data_dir`` on a free loopback port; ``stop()`` it after."""
    service = create_service(Path(data_dir), engine=engine, workers=workers, max_pixels=max_pixels)
    app = create_app(service, faults=faults, max_body_bytes=max_body_bytes)
    return FaceServer(service, app).start()
