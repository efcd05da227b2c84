"""botocore failures become typed provider errors; regions and credentials are checked."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from botocore import exceptions as bexc

from providers.errors import (
    BadImageError,
    MissingExtraError,
    PermanentError,
    RateLimitedError,
    TransientError,
    UnansweredError,
)
from providers.face_collection import (
    AccessDeniedError,
    CollectionExistsError,
    CollectionNotFoundError,
    InvalidRequestError,
)
from providers.faces_local.server import FaceServer
from providers.rekognition.collection import RekognitionCollection
from providers.rekognition.connection import RekognitionConnection, public_url
from providers.rekognition.errors import RegionError, is_no_face, translate

OPERATION = "rekognition SearchFacesByImage us-east-1/C"


def client_error(code: str, status: int = 400, message: str = "went wrong", **headers: str):
    response = {
        "Error": {"Code": code, "Message": message},
        "ResponseMetadata": {"HTTPStatusCode": status, "HTTPHeaders": headers},
    }
    return bexc.ClientError(response, "SearchFacesByImage")


def typed(exc: BaseException):
    return translate(exc, provider="rekognition", operation=OPERATION)


@pytest.mark.parametrize(
    ("code", "status", "kind"),
    [
        ("ThrottlingException", 400, RateLimitedError),
        ("ProvisionedThroughputExceededException", 400, RateLimitedError),
        ("SomethingNew", 429, RateLimitedError),
        ("InternalServerError", 500, TransientError),
        ("ServiceUnavailable", 503, TransientError),
        ("ResourceNotFoundException", 400, CollectionNotFoundError),
        ("ResourceAlreadyExistsException", 400, CollectionExistsError),
        ("AccessDeniedException", 400, AccessDeniedError),
        ("UnrecognizedClientException", 400, AccessDeniedError),
        ("ExpiredTokenException", 400, AccessDeniedError),
        ("ImageTooLargeException", 400, BadImageError),
        ("InvalidImageFormatException", 400, BadImageError),
        ("InvalidParameterException", 400, InvalidRequestError),
        ("ValidationException", 400, InvalidRequestError),
        ("ServiceQuotaExceededException", 400, PermanentError),
    ],
)
def test_client_errors_by_code(code: str, status: int, kind: type) -> None:
    error = typed(client_error(code, status))
    assert type(error) is kind
    assert str(error).startswith(OPERATION) and code in str(error)
    assert error.provider == "rekognition" and error.operation == OPERATION


def test_transient_means_retryable_and_permanent_not() -> None:
    assert isinstance(typed(client_error("InternalServerError", 500)), TransientError)
    for code in ("ResourceNotFoundException", "AccessDeniedException", "ImageTooLargeException"):
        error = typed(client_error(code))
        assert isinstance(error, PermanentError) and not isinstance(error, TransientError)


def test_retry_after_from_a_proxy_is_kept() -> None:
    error = typed(client_error("ThrottlingException", 429, **{"retry-after": "3"}))
    assert isinstance(error, RateLimitedError) and error.retry_after == 3.0


def test_transport_failures_are_transient_and_say_whether_the_call_was_sent() -> None:
    import urllib3.exceptions as u3

    # Nothing went out: not billed.
    for exc in (
        bexc.ConnectTimeoutError(endpoint_url="http://x"),
        bexc.EndpointConnectionError(endpoint_url="http://x"),
    ):
        assert type(typed(exc)) is TransientError
    # Sent, no reply (a timeout, a connection closed mid-reply, a body cut off, which
    # botocore lets through from urllib3): billed, so counted as spent.
    for exc in (
        bexc.ReadTimeoutError(endpoint_url="http://x"),
        bexc.ConnectionClosedError(endpoint_url="http://x"),
        u3.ReadTimeoutError(None, "/", "read timed out"),
        u3.ProtocolError("Connection broken: IncompleteRead"),
    ):
        assert type(typed(exc)) is UnansweredError, exc


def test_credential_and_region_failures_are_permanent_and_say_so() -> None:
    missing = typed(bexc.NoCredentialsError())
    assert isinstance(missing, AccessDeniedError) and "standard chain" in str(missing)
    assert isinstance(typed(bexc.NoRegionError()), RegionError)
    assert isinstance(typed(bexc.ParamValidationError(report="bad")), InvalidRequestError)


def test_non_botocore_exceptions_are_bugs_not_translated() -> None:
    assert typed(ZeroDivisionError("bug")) is None
    assert typed(KeyError("bug")) is None


def test_no_face_is_recognised_only_from_its_message() -> None:
    no_face = client_error(
        "InvalidParameterException",
        message="There are no faces in the image. Should be at least 1.",
    )
    assert is_no_face(no_face)
    assert not is_no_face(client_error("InvalidParameterException", message="MaxFaces too big"))
    assert not is_no_face(ValueError("There are no faces"))


def test_unknown_or_missing_region_is_a_region_error(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    for name in ("AWS_REGION", "AWS_DEFAULT_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    with pytest.raises(RegionError, match="no AWS region"):
        RekognitionCollection("C")
    with pytest.raises(RegionError, match="not offered in region 'xx-nowhere-9'"):
        RekognitionCollection("C", connection=RekognitionConnection(region="xx-nowhere-9"))
    with pytest.raises(RegionError):
        RekognitionCollection("C", connection=RekognitionConnection(region="bad region!"))
    aws = RekognitionCollection("C", connection=RekognitionConnection(region="eu-west-1"))
    assert aws.target == "eu-west-1/C" and aws.provider == "rekognition"


def test_credentials_come_only_from_the_chain(
    server: FaceServer,
    gallery: RekognitionCollection,
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
) -> None:
    # Against a real-AWS-style connection (no dummy keys) and an empty chain, a call fails
    # as access denied; it neither invents keys nor leaks the environment's.
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", raising=False)
    monkeypatch.delenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", raising=False)
    adapter = RekognitionCollection(
        "gallery",
        connection=RekognitionConnection(region="us-east-1", endpoint_url=server.base_url),
    )
    with pytest.raises(AccessDeniedError, match="DescribeCollection"):
        adapter.describe()
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLESECRETID")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "very-secret-key-value")
    chained = RekognitionCollection(
        "gallery",
        connection=RekognitionConnection(region="us-east-1", endpoint_url=server.base_url),
    )
    assert chained.describe().collection_id == "gallery"  # signed with the chain's keys
    missing = RekognitionCollection(
        "absent",
        connection=RekognitionConnection(region="us-east-1", endpoint_url=server.base_url),
    )
    with pytest.raises(CollectionNotFoundError) as raised:
        missing.describe()
    assert "very-secret" not in str(raised.value) and "AKIDEXAMPLE" not in str(raised.value)


def test_target_strips_userinfo_from_the_endpoint(server: FaceServer) -> None:
    secret_url = server.base_url.replace("http://", "http://user:hunter2@") + "/"
    adapter = RekognitionCollection(
        "C",
        provider="local",
        connection=RekognitionConnection(endpoint_url=secret_url, dummy_credentials=True),
    )
    assert adapter.target == f"{server.base_url}/C"
    assert public_url("https://a:b@[::1]:8443/x/?q=1#f") == "https://[::1]:8443/x"
    with pytest.raises(ValueError, match="http"):
        RekognitionConnection(endpoint_url="ftp://host")


def test_missing_boto3_names_the_aws_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "boto3", None)
    with pytest.raises(MissingExtraError, match=r"isotope-audit\[aws\]"):
        RekognitionCollection("C", connection=RekognitionConnection(region="us-east-1"))
