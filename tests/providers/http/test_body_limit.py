"""``BodyLimit``: oversized bodies refused in the server's own words, declared or streamed."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import requests
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from providers.http.background_server import BackgroundServer
from providers.http.body_limit import BodyLimit, Refusal

LIMIT = 1000


@contextmanager
def _server(seen: list[tuple[Refusal, str]]) -> Iterator[str]:
    app = FastAPI()

    @app.post("/echo")
    async def echo(request: Request) -> dict:
        return {"bytes": len(await request.body())}

    def reply(refusal: Refusal, message: str) -> JSONResponse:
        seen.append((refusal, message))
        return JSONResponse({"refused": str(refusal)}, status_code=499)

    with BackgroundServer(BodyLimit(app, max_bytes=LIMIT, reply=reply)) as server:
        yield server.base_url + "/echo"


def test_bodies_within_the_limit_reach_the_app_whole() -> None:
    seen: list[tuple[Refusal, str]] = []
    with _server(seen) as url:
        assert requests.post(url, data=b"x" * LIMIT, timeout=10).json() == {"bytes": LIMIT}
    assert seen == []


def test_declared_and_streamed_oversized_bodies_are_refused() -> None:
    seen: list[tuple[Refusal, str]] = []

    def chunks():
        for _ in range(3):
            yield b"y" * 600  # no Content-Length: counted as it streams

    with _server(seen) as url:
        declared = requests.post(url, data=b"x" * (LIMIT + 1), timeout=10)
        streamed = requests.post(url, data=chunks(), timeout=10)
    assert declared.status_code == streamed.status_code == 499
    assert [refusal for refusal, _ in seen] == [Refusal.TOO_LARGE, Refusal.TOO_LARGE]
    assert f"{LIMIT}-byte limit" in seen[0][1]
