"""Google API and transport errors as ``providers.errors`` types."""

from __future__ import annotations

import pytest
import requests
from google.api_core import exceptions as gexc
from google.protobuf.json_format import ParseError
from urllib3.exceptions import NewConnectionError

from providers.errors import (
    BadImageError,
    PermanentError,
    RateLimitedError,
    TransientError,
    UnansweredError,
)
from providers.vertex.errors import translate

OP = "vertex predict projects/p/locations/l/endpoints/1"


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (gexc.TooManyRequests("slow down"), RateLimitedError),
        (gexc.ResourceExhausted("quota"), RateLimitedError),
        (gexc.ServiceUnavailable("down"), TransientError),
        (gexc.InternalServerError("oops"), TransientError),
        (gexc.GatewayTimeout("late"), TransientError),
        (gexc.DeadlineExceeded("late"), UnansweredError),
        (requests.exceptions.ConnectTimeout("no connection"), TransientError),
        (requests.exceptions.ConnectionError(NewConnectionError(None, "refused")), TransientError),
        (requests.exceptions.ReadTimeout("timeout"), UnansweredError),
        (requests.exceptions.ConnectionError("reset"), UnansweredError),
        (requests.exceptions.ChunkedEncodingError("cut"), UnansweredError),
        (ParseError("bad json"), UnansweredError),
        (gexc.NotFound("no endpoint"), PermanentError),
        (gexc.PermissionDenied("no"), PermanentError),
        (gexc.Unauthenticated("who"), PermanentError),
        (gexc.BadRequest("cannot decode image"), BadImageError),
        (gexc.BadRequest("bad parameters"), PermanentError),
        (RuntimeError("surprise"), PermanentError),
    ],
)
def test_translation(exc, kind):
    out = translate(exc, operation=OP)
    assert type(out) is kind
    assert out.provider == "vertex" and out.operation == OP
    assert str(out).startswith(f"{OP}: ")
    assert type(exc).__name__ in str(out)


def test_image_errors_only_from_predict():
    out = translate(gexc.BadRequest("image dataset schema"), operation="vertex create dataset")
    assert type(out) is PermanentError


def test_retry_after_header_is_read_from_the_response():
    response = requests.Response()
    response.headers["Retry-After"] = "7"
    exc = gexc.TooManyRequests("slow down", response=response)
    assert translate(exc, operation=OP).retry_after == 7.0
