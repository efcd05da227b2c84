"""``LocalClassifier`` against hostile servers on 127.0.0.1: redirects, trickles, odd replies."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from collections.abc import Iterator

import numpy as np
import pytest
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, PlainTextResponse, RedirectResponse

from providers.errors import BadReplyError, PermanentError, TransientError, UnansweredError
from providers.http.background_server import BackgroundServer
from providers.local.client import LocalClassifier, RedirectRefusedError
from providers.query import QueryImage
from providers.redact import redact_url

PREDICT = "/v1/projects/local/locations/us-central1/endpoints/local:predict"
QUERY = [QueryImage.from_array(np.zeros((4, 4, 3), np.uint8))]


def _recorder() -> tuple[FastAPI, list[dict]]:
    """A server that answers everything and remembers what it was sent."""
    app = FastAPI()
    seen: list[dict] = []

    @app.api_route("/{path:path}", methods=["GET", "POST"])
    async def anything(path: str, request: Request):
        seen.append({"path": path, "headers": dict(request.headers), "body": await request.body()})
        return {"labels": ["a"], "predictions": [{"displayNames": ["a"], "confidences": [1.0]}]}

    return app, seen


def _redirector(location: str) -> FastAPI:
    app = FastAPI()

    @app.api_route("/{path:path}", methods=["GET", "POST"])
    def redirect(path: str):
        return RedirectResponse(f"{location}/{path}", status_code=307)

    return app


def test_a_redirect_is_an_error_naming_both_urls_and_nothing_reaches_the_other_host() -> None:
    other, seen = _recorder()
    elsewhere = BackgroundServer(other).start()
    with elsewhere, BackgroundServer(_redirector(elsewhere.base_url)) as first:
        client = LocalClassifier(first.base_url, api_key="s3cret-key", output="top_k", k=1)
        with pytest.raises(RedirectRefusedError) as caught:
            client.classify(QUERY)
        message = str(caught.value)
        assert first.base_url + PREDICT in message
        assert elsewhere.base_url + PREDICT in message
        full = LocalClassifier(first.base_url, api_key="s3cret-key")
        with pytest.raises(RedirectRefusedError, match="/model"):
            full.labels()  # not mistaken for a server without the info route
    assert isinstance(caught.value, PermanentError)
    assert seen == []  # neither the key nor the images went to the other host


def test_credentials_in_the_target_are_never_recorded_or_shown() -> None:
    app, seen = _recorder()
    with BackgroundServer(app) as server:
        url = server.base_url.replace("http://", "http://alice:pa55word@")
        client = LocalClassifier(url)
        assert "pa55word" not in client.target and "alice" not in client.target
        assert client.target.startswith(server.base_url + "/v1/")
        assert len(client.classify(QUERY)) == 1
        assert seen  # the credentials still authenticate the calls themselves
    with pytest.raises(TransientError) as caught:  # the server is gone now
        LocalClassifier(url, timeout_s=2).classify(QUERY)
    assert "pa55word" not in str(caught.value) and server.base_url in str(caught.value)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://user:pass@127.0.0.1:8080/v1/x", "http://127.0.0.1:8080/v1/x"),
        ("https://token@example.com", "https://example.com"),
        ("http://[::1]:80/?key=abc&q=1", "http://[::1]:80/?key=REDACTED&q=1"),
        ("https://h/p?X-Goog-Signature=s&a=b", "https://h/p?X-Goog-Signature=REDACTED&a=b"),
        ("http://127.0.0.1:8080", "http://127.0.0.1:8080"),
        ("projects/p/locations/l/endpoints/e", "projects/p/locations/l/endpoints/e"),
        ("trained-on=mine:cat", "trained-on=mine:cat"),
        ("http://[unclosed", "http://[unclosed"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_a_target_that_is_not_an_http_url_is_refused_by_name() -> None:
    with pytest.raises(ValueError, match="http:// or https://") as caught:
        LocalClassifier("ftp://bob:hunter2@host/x")
    assert "hunter2" not in str(caught.value)


@contextlib.contextmanager
def _trickler(headers_too: bool) -> Iterator[str]:
    """A raw HTTP server that answers one byte every 0.1 s (status line first if not
    ``headers_too``), forever."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(8)
    listener.settimeout(0.2)
    stop = threading.Event()

    def serve(conn: socket.socket) -> None:
        with conn:
            conn.settimeout(5)
            with contextlib.suppress(OSError):
                conn.recv(65536)
                reply = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                if headers_too:
                    reply += b"X-Slow: " + b"a" * 10_000
                else:
                    conn.sendall(reply + b"Content-Length: 100000\r\n\r\n")
                    reply = b" " * 100_000
                for byte in reply:
                    if stop.is_set():
                        return
                    conn.sendall(bytes([byte]))
                    time.sleep(0.1)

    def accept() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except TimeoutError:
                continue
            threading.Thread(target=serve, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{listener.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(5)
        listener.close()


@pytest.mark.parametrize("headers_too", [False, True])
def test_a_trickling_reply_hits_the_overall_deadline(headers_too: bool) -> None:
    with _trickler(headers_too) as url:
        client = LocalClassifier(url, output="top_k", k=1, timeout_s=1, deadline_s=1.5)
        started = time.monotonic()
        with pytest.raises(TransientError, match=r"within the call's 1.5 s deadline"):
            client.classify(QUERY)
        assert time.monotonic() - started < 3.5  # a byte every 0.1 s never trips 1 s reads


def _answering(predictions: list) -> FastAPI:
    app = FastAPI()

    @app.post(PREDICT)
    def predict():
        return JSONResponse({"predictions": predictions})

    return app


@pytest.mark.parametrize(
    ("prediction", "problem"),
    [
        ({"displayNames": ["a", "b"], "confidences": [True, False]}, "not a number"),
        ({"displayNames": ["a", "b"], "confidences": ["0.9", "0.1"]}, "not a number"),
        ({"displayNames": ["a", "b"], "confidences": [0.5, 1.5]}, "outside [0, 1]"),
        ({"displayNames": ["a", "b"], "confidences": [-0.1, 0.5]}, "outside [0, 1]"),
        ({"displayNames": ["a", "a"], "confidences": [0.5, 0.4]}, "more than once"),
        ({"displayNames": [1, "b"], "confidences": [0.5, 0.4]}, "not a string"),
    ],
)
def test_odd_confidences_are_a_bad_reply(prediction: dict, problem: str) -> None:
    with BackgroundServer(_answering([prediction])) as fake:
        client = LocalClassifier(fake.base_url, output="top_k", k=2)
        with pytest.raises(BadReplyError, match="prediction 0") as caught:
            client.classify(QUERY)
        assert problem in str(caught.value)


def test_a_body_that_is_not_json_is_unanswered_and_asked_again() -> None:
    app = FastAPI()
    calls: list[int] = []

    @app.post(PREDICT)
    def predict():
        calls.append(1)
        if len(calls) == 1:  # the first reply arrives garbled
            return PlainTextResponse('{"predictions": [{"displayNa')
        return JSONResponse({"predictions": [{"displayNames": ["a"], "confidences": [1.0]}]})

    with BackgroundServer(app) as fake:
        client = LocalClassifier(fake.base_url)
        with pytest.raises(UnansweredError, match="not JSON"):
            client.classify(QUERY)
        assert dict(client.classify(QUERY)[0].values) == {"a": 1.0}
