"""``isotope serve`` against hostile clients: deep JSON, stalled uploads, pixel bombs, bad hosts."""

from __future__ import annotations

import base64
import contextlib
import io
import socket
import time
from pathlib import Path

import pytest
import requests
from PIL import Image

from providers.errors import ProviderOptionError
from providers.http.background_server import BackgroundServer
from providers.local.bind import check_host, describe_bind
from providers.local.predictor import Predictor
from providers.local.server import create_app, serve, serve_in_background

PREDICT = "/v1/projects/p/locations/l/endpoints/local:predict"


def _png_b64(width: int, height: int) -> str:
    buf = io.BytesIO()
    Image.new("L", (width, height)).save(buf, "PNG")
    return base64.b64encode(buf.getvalue()).decode()


def _is_google_error(reply: requests.Response, code: int) -> dict:
    assert reply.status_code == code, reply.text
    assert reply.headers["content-type"].startswith("application/json")
    error = reply.json()["error"]
    assert error["code"] == code
    return error


def test_a_deeply_nested_body_is_a_400_json_error(server) -> None:
    body = "[" * 100_000 + "]" * 100_000
    reply = requests.post(
        server.base_url + PREDICT,
        data=body,
        headers={"content-type": "application/json"},
        timeout=30,
    )
    error = _is_google_error(reply, 400)
    assert "nested too deeply" in error["message"] and error["status"] == "INVALID_ARGUMENT"
    assert requests.get(server.base_url + "/health", timeout=10).ok


def test_an_unexpected_failure_is_a_500_json_error_without_internals(
    tiny_model: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(self: Predictor, images: object) -> None:
        raise RuntimeError("secret internal detail")

    monkeypatch.setattr(Predictor, "predict", broken)
    with serve_in_background(tiny_model, device="cpu") as running:
        reply = requests.post(
            running.base_url + PREDICT,
            json={"instances": [{"content": _png_b64(8, 8)}]},
            timeout=30,
        )
    error = _is_google_error(reply, 500)
    assert error["status"] == "INTERNAL" and "secret internal detail" not in error["message"]


def test_a_junk_image_is_named_without_python_object_reprs(server) -> None:
    junk = base64.b64encode(b"definitely not an image").decode()
    reply = requests.post(
        server.base_url + PREDICT, json={"instances": [{"content": junk}]}, timeout=30
    )
    message = _is_google_error(reply, 400)["message"]
    assert message.startswith("instances[0]: cannot decode image")
    assert "not an image format" in message
    assert "BytesIO" not in message and " at 0x" not in message


def test_pixels_per_request_are_capped_before_decoding(server) -> None:
    # 8 images of exactly 25 megapixels each: every one passes the per-image limit, but
    # decoding all of them would cost seconds of CPU and gigabytes for one request.
    instances = [{"content": _png_b64(5000, 5000)} for _ in range(8)]
    started = time.monotonic()
    reply = requests.post(server.base_url + PREDICT, json={"instances": instances}, timeout=60)
    elapsed = time.monotonic() - started
    error = _is_google_error(reply, 413)
    assert "200000000 pixels" in error["message"] and "per-request limit" in error["message"]
    assert elapsed < 1.5  # decoding the eight would take several seconds here
    one = requests.post(server.base_url + PREDICT, json={"instances": instances[:1]}, timeout=60)
    assert one.status_code == 200, one.text  # a single large image is still served


def _stalled_upload(port: int) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", port), timeout=10)
    sock.sendall(
        f"POST {PREDICT} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        'Content-Length: 100000\r\n\r\n{"instances": ['.encode()
    )
    return sock


def _closed_by_server(sock: socket.socket, within: float) -> bool:
    sock.settimeout(within)
    try:
        while sock.recv(65536):
            pass  # a 408/503 reply first is fine; what matters is the close
    except TimeoutError:
        return False
    except OSError:
        return True
    return True


def test_stalled_uploads_time_out_and_are_capped(tiny_model: Path) -> None:
    app = create_app(tiny_model, device="cpu", body_timeout_s=1.0, max_concurrent_uploads=16)
    with BackgroundServer(app) as running:
        stalled = [_stalled_upload(running.port) for _ in range(300)]
        try:
            # While they stall the server still answers (health needs no upload slot).
            assert requests.get(running.base_url + "/health", timeout=5).ok
            busy = requests.post(
                running.base_url + PREDICT,
                json={"instances": [{"content": _png_b64(8, 8)}]},
                timeout=10,
            )
            assert busy.status_code in (200, 503)
            if busy.status_code == 503:
                assert _is_google_error(busy, 503)["status"] == "UNAVAILABLE"
                assert busy.headers.get("retry-after")
            deadline = time.monotonic() + 6
            still_open = [
                s
                for s in stalled
                if not _closed_by_server(s, max(0.05, deadline - time.monotonic()))
            ]
            assert still_open == []  # every stalled upload was cut off within seconds
            after = requests.post(
                running.base_url + PREDICT,
                json={"instances": [{"content": _png_b64(8, 8)}]},
                timeout=10,
            )
            assert after.status_code == 200, after.text
        finally:
            for sock in stalled:
                with contextlib.suppress(OSError):
                    sock.close()


def test_a_slow_but_steady_upload_under_the_deadline_is_served(tiny_model: Path) -> None:
    app = create_app(tiny_model, device="cpu", body_timeout_s=3.0)
    with BackgroundServer(app) as running:
        body = ('{"instances": [{"content": "' + _png_b64(8, 8) + '"}]}').encode()
        sock = socket.create_connection(("127.0.0.1", running.port), timeout=10)
        sock.sendall(
            f"POST {PREDICT} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n".encode()
        )
        for start in range(0, len(body), len(body) // 4 + 1):
            sock.sendall(body[start : start + len(body) // 4 + 1])
            time.sleep(0.2)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
        sock.close()
    assert reply.startswith(b"HTTP/1.1 200")


@pytest.mark.parametrize("host", ["", "   ", "http://127.0.0.1", "127.0.0.1:8080"])
def test_a_blank_or_malformed_host_is_refused(host: str, tiny_model: Path) -> None:
    with pytest.raises(ProviderOptionError, match="--host"):
        check_host(host)
    with pytest.raises(ProviderOptionError, match="--host"):
        serve(tiny_model, host=host, port=0, device="cpu")


def test_what_is_bound_is_said_exactly() -> None:
    assert check_host("127.0.0.1") == "127.0.0.1" and check_host("::1") == "::1"
    assert describe_bind("127.0.0.1", 8080) == "http://127.0.0.1:8080 (this machine only)"
    assert describe_bind("localhost", 80) == "http://localhost:80 (this machine only)"
    assert describe_bind("0.0.0.0", 8080) == (
        "http://0.0.0.0:8080 (every IPv4 interface: reachable from other machines)"
    )
    assert describe_bind("::", 8080) == (
        "http://[::]:8080 (every interface: reachable from other machines)"
    )
    assert describe_bind("192.168.1.5", 1) == (
        "http://192.168.1.5:1 (reachable from other machines)"
    )
