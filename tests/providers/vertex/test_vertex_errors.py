"""Google API and transport errors as ``providers.errors`` types."""

from __future__ import annotations

import email.utils

import pytest
import requests
from google.api_core import exceptions as gexc
from google.protobuf.json_format import ParseError

from providers.errors import (
    BadImageError,
    PermanentError,
    RateLimitedError,
    TransientError,
)
from providers.vertex.errors import retry_after_seconds, translate

OP = "vertex predict projects/p/locations/l/endpoints/1"


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (gexc.TooManyRequests("slow down"), RateLimitedError),
        (gexc.ResourceExhausted("quota"), RateLimitedError),
        (gexc.ServiceUnavailable("down"), TransientError),
        (gexc.InternalServerError("oops"), TransientError),
        (gexc.GatewayTimeout("late"), TransientError),
        (gexc.DeadlineExceeded("late"), TransientError),
        (requests.exceptions.ReadTimeout("timeout"), TransientError),
        (requests.exceptions.ConnectionError("reset"), TransientError),
        (requests.exceptions.ChunkedEncodingError("cut"), TransientError),
        (ParseError("bad json"), TransientError),
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


def test_retry_after_forms():
    assert retry_after_seconds(None) is None
    assert retry_after_seconds("2.5") == 2.5
    assert retry_after_seconds("-3") == 0.0
    assert retry_after_seconds("soon") is None
    date = email.utils.formatdate(1_000_030, usegmt=True)
    assert retry_after_seconds(date, now=1_000_000) == pytest.approx(30.0)
