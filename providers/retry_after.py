"""How long a service asked a client to wait before trying again, from its reply headers."""

from __future__ import annotations

import email.utils
import math
import time
from collections.abc import Mapping

MS_HEADERS = ("retry-after-ms", "x-ms-retry-after-ms")
"""Azure's millisecond forms, read before ``Retry-After`` (they are more precise)."""


def retry_after_seconds(
    headers: Mapping[str, str] | None, *, now: float | None = None
) -> float | None:
    """Seconds to wait from ``retry-after-ms``, ``x-ms-retry-after-ms`` or ``Retry-After``.

    Header names are matched in any case. ``Retry-After`` may be delta-seconds or an
    HTTP date (``now`` is the clock it is read against, ``time.time()`` by default).
    None when no header says, or when its value cannot be read; never negative.
    """
    if not headers:
        return None
    lowered = {str(k).lower(): str(v) for k, v in headers.items()}
    for name in MS_HEADERS:
        value = lowered.get(name)
        if value:
            seconds = _number(value)
            if seconds is not None:
                return seconds / 1000.0
    value = (lowered.get("retry-after") or "").strip()
    if not value:
        return None
    seconds = _number(value)
    if seconds is not None:
        return seconds
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _number(value: str) -> float | None:
    try:
        number = float(value)
    except ValueError:
        return None
    return max(0.0, number) if math.isfinite(number) else None
