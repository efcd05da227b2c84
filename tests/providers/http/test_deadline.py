"""The overall deadline over plain HTTP and over TLS: a reply trickling in a piece at a
time, each piece well within the per-read timeout, ends at the deadline."""

from __future__ import annotations

import contextlib
import datetime
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from providers.http.deadline import call_deadline, mount_deadline

BODY = b'{"predictions": []}' + b" " * 80
PIECES = 10
PAUSE_S = 0.12  # between pieces: 1.2 s for the whole body, well within a 0.5 s read


def _certificate(folder: Path) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1 and its key."""
    pytest.importorskip("cryptography")
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(hours=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = folder / "cert.pem", folder / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def _trickle(conn: socket.socket) -> None:
    with contextlib.suppress(OSError):
        request = b""
        while b"\r\n\r\n" not in request:
            chunk = conn.recv(4096)
            if not chunk:
                return
            request += chunk
        head = f"HTTP/1.1 200 OK\r\nContent-Length: {len(BODY)}\r\n"
        conn.sendall(head.encode() + b"Content-Type: application/json\r\n\r\n")
        size = -(-len(BODY) // PIECES)
        for start in range(0, len(BODY), size):
            time.sleep(PAUSE_S)
            conn.sendall(BODY[start : start + size])
    conn.close()


@contextlib.contextmanager
def _server(context: ssl.SSLContext | None) -> Iterator[int]:
    listener = socket.create_server(("127.0.0.1", 0))
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = listener.accept()
            except OSError:
                return
            if context is not None:
                try:
                    conn = context.wrap_socket(conn, server_side=True)
                except OSError:
                    conn.close()
                    continue
            threading.Thread(target=_trickle, args=(conn,), daemon=True).start()

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield listener.getsockname()[1]
    finally:
        stop.set()
        listener.close()


@pytest.fixture(params=["http", "https"])
def trickling(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, object]]:
    """(URL, requests' ``verify``) of a server trickling its reply, over HTTP or TLS."""
    if request.param == "http":
        with _server(None) as port:
            yield f"http://127.0.0.1:{port}/", True
        return
    cert, key = _certificate(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    with _server(context) as port:
        yield f"https://127.0.0.1:{port}/", str(cert)


def test_the_reply_ends_at_the_deadline_not_at_a_read_timeout(trickling) -> None:
    url, verify = trickling
    session = requests.Session()
    mount_deadline(session)
    # The per-read timeout alone never fires: the whole body arrives, slowly.
    with call_deadline(30.0):
        started = time.monotonic()
        assert session.get(url, timeout=(2, 0.5), verify=verify).content == BODY
    assert time.monotonic() - started >= PIECES * PAUSE_S * 0.9
    with call_deadline(0.5):
        started = time.monotonic()
        with pytest.raises(requests.exceptions.RequestException):
            session.get(url, timeout=(2, 0.5), verify=verify).content  # noqa: B018
    assert time.monotonic() - started < 0.5 + 2 * PAUSE_S


def test_without_a_deadline_the_session_behaves_as_before(trickling) -> None:
    url, verify = trickling
    session = requests.Session()
    mount_deadline(session)
    assert session.get(url, timeout=(2, 0.5), verify=verify).content == BODY


def test_through_an_http_proxy_too() -> None:
    session = requests.Session()
    mount_deadline(session)
    # The request goes to the proxy (the trickling server), which answers for the target.
    with _server(None) as port, call_deadline(0.5):
        proxies = {"http": f"http://127.0.0.1:{port}"}
        started = time.monotonic()
        with pytest.raises(requests.exceptions.RequestException):
            session.get("http://service.invalid/", proxies=proxies, timeout=(2, 0.5)).content  # noqa: B018
    assert time.monotonic() - started < 0.5 + 2 * PAUSE_S
