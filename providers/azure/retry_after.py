"""How long an Azure service asked a client to wait, from its reply headers."""

from __future__ import annotations

import email.utils
import math
import time
from collections.abc import Mapping

_MS_HEADERS = ("retry-after-ms", "x-ms-retry-after-ms")


def retry_after_seconds(headers: Mapping[str, str], *, now: float | None = None) -> float | None:
    """Seconds to wait from ``retry-after-ms``, ``x-ms-retry-after-ms`` or ``Retry-After``.

    ``Retry-After`` may be delta-seconds or an HTTP date. None when no header says, or
    when its value cannot be read; never negative.
    """
    lowered = {k.lower(): v for k, v in headers.items()}
    for name in _MS_HEADERS:
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
