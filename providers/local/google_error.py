"""Error replies in the JSON shape Google APIs use, so the real SDK raises its usual exceptions."""

from __future__ import annotations

from fastapi.responses import JSONResponse

_STATUS = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    404: "NOT_FOUND",
    408: "DEADLINE_EXCEEDED",
    413: "INVALID_ARGUMENT",
    500: "INTERNAL",
    503: "UNAVAILABLE",
}


def google_error(code: int, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """``{"error": {"code", "message", "status"}}`` with HTTP status ``code``."""
    status = _STATUS.get(code, "UNKNOWN")
    return JSONResponse(
        {"error": {"code": code, "message": message, "status": status}}, code, headers=headers
    )
