"""How the local model server refuses an upload: Google's JSON error, connection closed.

Too large → 413 (a client halves its batch), too slow → 408, too many at once → 503
with ``Retry-After`` (``providers.http.body_limit``).
"""

from __future__ import annotations

from starlette.types import ASGIApp

from providers.http.body_limit import Refusal
from providers.local.google_error import google_error

_CODES = {Refusal.TOO_LARGE: 413, Refusal.TOO_SLOW: 408, Refusal.BUSY: 503}
_CLOSE = {"Connection": "close"}


def upload_refusal(refusal: Refusal, message: str) -> ASGIApp:
    """The reply refusing an upload for ``refusal``."""
    headers = {**_CLOSE, "Retry-After": "1"} if refusal is Refusal.BUSY else _CLOSE
    return google_error(_CODES[refusal], message, dict(headers))
