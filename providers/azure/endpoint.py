"""Checking and normalising an Azure AI Vision endpoint URL (the adapter's ``target``)."""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def normalize_endpoint(url: str) -> str:
    """``scheme://host[:port][/path]`` of ``url``: user info, query and trailing ``/`` removed.

    Only ``https`` is accepted, except plain ``http`` to this machine (a local server),
    because the key travels in a header. Raises ``ValueError`` saying what is wrong;
    the message never repeats user info that was in ``url``.
    """
    text = url.strip()
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        raise ValueError(
            "the endpoint is not a URL; give https://NAME.cognitiveservices.azure.com"
        ) from None
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower()
    if scheme not in ("http", "https") or not host:
        raise ValueError(
            "the endpoint must be an https:// URL such as https://NAME.cognitiveservices.azure.com"
        )
    if parts.query or parts.fragment:
        raise ValueError("the endpoint must not carry a query or fragment (?... or #...)")
    if scheme == "http" and not _is_loopback(host):
        raise ValueError(
            f"http://{host} would carry the key unencrypted; use https:// "
            "(plain http is accepted only for a local server on 127.0.0.1 or localhost)"
        )
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc = f"{netloc}:{port}"
    return f"{scheme}://{netloc}{parts.path.rstrip('/')}"
