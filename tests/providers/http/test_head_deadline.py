"""Request heads that trickle in (slowloris) are cut off with a 408; prompt ones are served."""

from __future__ import annotations

import json
import socket
import time
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import requests
from fastapi import FastAPI

from providers.http.background_server import BackgroundServer

DEADLINE_S = 0.5


@pytest.fixture(scope="module")
def server() -> Iterator[BackgroundServer]:
    app = FastAPI()

    @app.get("/ping")
    async def ping() -> dict:
        return {"ok": True}

    with BackgroundServer(app, head_timeout_s=DEADLINE_S) as running:
        yield running


@contextmanager
def _connection(server: BackgroundServer) -> Iterator[socket.socket]:
    sock = socket.create_connection((server.host, server.port), timeout=5)
    try:
        yield sock
    finally:
        sock.close()


def _read_all(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(4096):
        chunks.append(chunk)
    return b"".join(chunks)


def test_a_trickled_head_gets_a_408_and_the_connection_closes(server) -> None:
    with _connection(server) as sock:
        started = time.monotonic()
        sock.sendall(b"GET /ping HTTP/1.1\r\nHost: x\r\n")
        for _ in range(3):  # one header line every 0.2 s, never the blank line
            time.sleep(0.2)
            try:
                sock.sendall(b"X-Slow: 1\r\n")
            except OSError:
                break  # already closed by the server
        reply = _read_all(sock)
        took = time.monotonic() - started
    assert reply.startswith(b"HTTP/1.1 408 ")
    _, body = reply.split(b"\r\n\r\n", 1)
    assert json.loads(body)["error"]["code"] == 408
    assert DEADLINE_S - 0.05 <= took < DEADLINE_S + 2.0


def test_a_silent_connection_is_closed(server) -> None:
    with _connection(server) as sock:
        assert _read_all(sock).startswith(b"HTTP/1.1 408 ")


def test_prompt_requests_are_served_also_on_a_kept_alive_connection(server) -> None:
    with requests.Session() as session:
        for _ in range(3):  # each request on the kept-alive connection gets its own deadline
            assert session.get(server.base_url + "/ping", timeout=5).json() == {"ok": True}
            time.sleep(DEADLINE_S * 0.6)
