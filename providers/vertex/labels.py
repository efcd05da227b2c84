"""Vertex AI's rules for dataset label names and Cloud Storage locations."""

from __future__ import annotations

import re

from providers.errors import ProviderOptionError

_LABEL = re.compile(r"^[A-Za-z][A-Za-z0-9_]*$")
_GS_URI = re.compile(r"^gs://(?P<bucket>[a-z0-9][a-z0-9._-]{1,220}[a-z0-9])(?:/(?P<prefix>.*))?$")


def check_label(label: str, *, where: str) -> str:
    """Return ``label`` if Vertex accepts it (a letter, then letters, digits, ``_``).

    Raises ``ValueError`` naming ``where`` (the folder or file it came from).
    """
    if not _LABEL.match(label) or len(label) > 128:
        raise ProviderOptionError(
            f"{where}: label {label!r} is not valid for Vertex AI (it must start with a "
            "letter and hold only letters, digits and underscores, at most 128 characters)"
        )
    return label


def split_gs_uri(uri: str) -> tuple[str, str]:
    """(bucket, prefix without trailing slash) of ``gs://bucket[/prefix]``."""
    match = _GS_URI.match(uri.strip())
    if not match:
        raise ProviderOptionError(f"not a Cloud Storage location (gs://bucket/prefix): {uri!r}")
    return match["bucket"], (match["prefix"] or "").strip("/")
