"""Rekognition's JSON 1.1 wire format, server side: reading requests, shaping replies.

A request is ``POST /`` with ``X-Amz-Target: RekognitionService.<Operation>`` and a JSON
body; image bytes arrive base64-encoded in ``Image.Bytes``. An error is HTTP 400 (500
for ``InternalServerError``) with ``{"__type": CODE, "message": TEXT}``, which botocore
raises as a ``ClientError`` with that code. Field checks follow botocore's service
model (``botocore/data/rekognition/2016-06-27/service-2.json``).
"""

from __future__ import annotations

import base64
import binascii
import io
import json
from collections.abc import Mapping

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError
from starlette.responses import Response

from providers.rekognition import ids

CONTENT_TYPE = "application/x-amz-json-1.1"
TARGET_PREFIX = "RekognitionService."
MAX_IMAGE_BYTES = 5 * 1024 * 1024  # Image.Bytes: at most 5 MB
DEFAULT_MAX_PIXELS = 4096 * 4096
NO_FACE_MESSAGE = "There are no faces in the image. Should be at least 1."


class AwsError(Exception):
    """An error reply: its ``__type`` code, message and HTTP status."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.status = status


def json_reply(body: Mapping[str, object], status: int = 200) -> Response:
    """A reply with Rekognition's content type."""
    return Response(json.dumps(body), status_code=status, media_type=CONTENT_TYPE)


def error_reply(error: AwsError) -> Response:
    """An error reply in the JSON 1.1 shape botocore parses."""
    return json_reply({"__type": error.code, "message": error.message}, error.status)


def validation_error(exc: ValueError) -> AwsError:
    """A ``ValidationException`` for a field that breaks the service model."""
    return AwsError("ValidationException", f"1 validation error detected: {exc}")


def parse_body(raw: bytes) -> dict:
    """The request's JSON object; ``SerializationException`` when it is not one."""
    try:
        body = json.loads(raw or b"{}")
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise AwsError("SerializationException", "request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise AwsError("SerializationException", "request body is not a JSON object")
    return body


def collection_id(body: Mapping) -> str:
    """The required, valid ``CollectionId``."""
    if "CollectionId" not in body:
        raise AwsError(
            "ValidationException", "1 validation error detected: CollectionId is required"
        )
    try:
        return ids.check_collection_id(body["CollectionId"])
    except ValueError as exc:
        raise validation_error(exc) from None


def optional_int(body: Mapping, key: str, low: int, high: int | None) -> int | None:
    """An optional integer field within ``low``..``high``."""
    value = body.get(key)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise AwsError("ValidationException", f"{key} must be an integer, got {value!r}")
    if value < low or (high is not None and value > high):
        bounds = f"{low}..{high}" if high is not None else f">= {low}"
        raise AwsError("InvalidParameterException", f"{key} must be {bounds}, got {value}")
    return int(value)


def threshold(body: Mapping, default: float) -> float:
    """``FaceMatchThreshold`` (0–100)."""
    value = body.get("FaceMatchThreshold", default)
    try:
        return ids.check_threshold(value)
    except ValueError as exc:
        raise AwsError("InvalidParameterException", str(exc)) from None


def quality_filter(body: Mapping, default: str) -> str:
    """``QualityFilter`` (NONE, AUTO, LOW, MEDIUM, HIGH)."""
    try:
        return ids.check_quality_filter(body.get("QualityFilter", default))
    except ValueError as exc:
        raise validation_error(exc) from None


def external_id(body: Mapping) -> str | None:
    """The optional, valid ``ExternalImageId``."""
    value = body.get("ExternalImageId")
    if value is None:
        return None
    try:
        return ids.check_external_id(value)
    except ValueError as exc:
        raise validation_error(exc) from None


def image_bytes(body: Mapping) -> bytes:
    """The decoded ``Image.Bytes`` (S3 objects are not supported here)."""
    image = body.get("Image")
    if not isinstance(image, Mapping):
        raise AwsError("ValidationException", "1 validation error detected: Image is required")
    if "S3Object" in image:
        raise AwsError("InvalidS3ObjectException", "the local face engine takes Image.Bytes only")
    encoded = image.get("Bytes")
    if not isinstance(encoded, str) or not encoded:
        raise AwsError(
            "ValidationException", "1 validation error detected: Image.Bytes is required"
        )
    try:
        data = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        raise AwsError("SerializationException", "Image.Bytes is not valid base64") from None
    if len(data) > MAX_IMAGE_BYTES:
        raise AwsError(
            "ImageTooLargeException", f"image is {len(data)} bytes; the limit is {MAX_IMAGE_BYTES}"
        )
    return data


def decode_image(data: bytes, max_pixels: int) -> np.ndarray:
    """JPEG or PNG bytes as upright RGB uint8 (H, W, 3); pixel count checked before decoding."""
    try:
        with Image.open(io.BytesIO(data)) as image:
            if image.format not in ("JPEG", "PNG"):
                raise AwsError(
                    "InvalidImageFormatException",
                    f"Request has unsupported image format {image.format}: use JPEG or PNG",
                )
            pixels = image.width * image.height
            if pixels > max_pixels:
                raise AwsError(
                    "ImageTooLargeException",
                    f"image is {image.width}x{image.height} = {pixels} pixels; "
                    f"the limit is {max_pixels}",
                )
            upright = ImageOps.exif_transpose(image) if image.format == "JPEG" else image
            return np.asarray(upright.convert("RGB"))
    except Image.DecompressionBombError:
        raise AwsError("ImageTooLargeException", "image has too many pixels") from None
    except UnidentifiedImageError:
        raise AwsError("InvalidImageFormatException", "Request has invalid image format") from None
    except (OSError, ValueError, SyntaxError, EOFError):
        raise AwsError(
            "InvalidImageFormatException", "image data is corrupt or truncated"
        ) from None


def box(left: float, top: float, width: float, height: float) -> dict:
    """A ``BoundingBox`` structure."""
    return {"Width": width, "Height": height, "Left": left, "Top": top}
