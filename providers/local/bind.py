"""The address ``isotope serve`` binds: checked, and described exactly.

uvicorn (like ``socket.bind``) takes an empty host as "every interface", and a URL or
``host:port`` is a typo that fails only later; both are refused here. ``describe_bind``
says in words who can reach the server, so a warning never shows a blank address.
"""

from __future__ import annotations

import ipaddress

from providers.errors import ProviderOptionError

LOOPBACK_NAMES = frozenset({"localhost"})


def check_host(host: str) -> str:
    """Return ``host`` if it names one address or host name to bind, else raise.

    ``ProviderOptionError`` names ``--host`` for an empty value, a URL, or a
    ``host:port`` pair; use ``0.0.0.0`` (IPv4) or ``::`` to mean every interface.
    """
    if not host or not host.strip():
        raise ProviderOptionError(
            "--host is empty; give an address: 127.0.0.1 (this machine only, the default), "
            "or 0.0.0.0 to listen on every interface"
        )
    if host != host.strip() or "/" in host:
        raise ProviderOptionError(f"--host {host!r} must be an address or name, not a URL")
    if ":" in host:
        try:
            ipaddress.IPv6Address(host)
        except ValueError:
            raise ProviderOptionError(
                f"--host {host!r} must be an address without a port (use --port)"
            ) from None
    return host


def is_loopback(host: str) -> bool:
    """True when only this machine can reach ``host`` (127.0.0.0/8, ::1, localhost)."""
    if host in LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False  # a host name: it may resolve to anything


def describe_bind(host: str, port: int) -> str:
    """The server's base URL and, in words, who can reach it."""
    shown = f"[{host}]" if ":" in host else host
    url = f"http://{shown}:{port}"
    if is_loopback(host):
        return f"{url} (this machine only)"
    if host == "0.0.0.0":
        return f"{url} (every IPv4 interface: reachable from other machines)"
    if host == "::":
        return f"{url} (every interface: reachable from other machines)"
    return f"{url} (reachable from other machines)"
