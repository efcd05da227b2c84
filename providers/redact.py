"""Keeping secrets out of everything recorded or shown: URLs without their credentials.

A target such as ``http://user:pass@host:8080/?key=K`` works as given, but whatever is
written to a ledger, a report or the screen must read ``http://host:8080/?key=REDACTED``.
Use ``redact_url`` on any URL-like string before it is recorded or printed.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

REDACTED = "REDACTED"
# Query parameters that carry credentials in common APIs (Google's ?key=, OAuth
# tokens, signed URLs). Compared case-insensitively.
SECRET_PARAMETERS = frozenset(
    {
        "key",
        "api_key",
        "apikey",
        "api-key",
        "access_token",
        "id_token",
        "refresh_token",
        "token",
        "auth",
        "password",
        "passwd",
        "secret",
        "client_secret",
        "sig",
        "signature",
        "x-amz-signature",
        "x-amz-credential",
        "x-amz-security-token",
        "x-goog-signature",
        "x-goog-credential",
        "code",
    }
)


def redact_url(url: str) -> str:
    """``url`` without ``user:password@`` and with secret query values replaced.

    Anything that is not a URL with a host (a Vertex resource name, a mock target) is
    returned unchanged, as is a URL with nothing to hide.
    """
    try:
        parts = urlsplit(url)
    except ValueError:
        return url  # not parsable as a URL (e.g. an unbalanced "["): nothing to split
    if not parts.netloc:
        return url
    netloc = parts.netloc.rpartition("@")[2]
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        if any(name.lower() in SECRET_PARAMETERS for name, _ in pairs):
            query = urlencode(
                [(n, REDACTED if n.lower() in SECRET_PARAMETERS else v) for n, v in pairs]
            )
    if netloc == parts.netloc and query == parts.query:
        return url
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
