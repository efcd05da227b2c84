"""The Vertex AI REST prediction protocol, server side: parse requests, shape replies.

Request ``{"instances": [{"content": base64, "mimeType"?}], "parameters":
{"confidenceThreshold": float, "maxPredictions": int}}`` (numbers may arrive as
floats); each prediction ``{"ids", "displayNames", "confidences"}`` sorted by
confidence, highest first.
"""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

DEFAULT_MAX_PREDICTIONS = 10  # Vertex AutoML's default
DEFAULT_THRESHOLD = 0.0


class ProtocolError(ValueError):
    """A malformed request; the message says which field, and for images which index."""


@dataclass(frozen=True)
class PredictParameters:
    """Validated ``parameters`` of a predict request."""

    confidence_threshold: float = DEFAULT_THRESHOLD
    max_predictions: int = DEFAULT_MAX_PREDICTIONS


def _number(value: object, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ProtocolError(f"parameters.{name} must be a finite number, got {value!r}")
    return float(value)


def parse_parameters(raw: object) -> PredictParameters:
    """Validate the ``parameters`` object (absent → Vertex defaults)."""
    if raw is None:
        return PredictParameters()
    if not isinstance(raw, dict):
        raise ProtocolError("parameters must be an object")
    threshold = _number(raw.get("confidenceThreshold", DEFAULT_THRESHOLD), "confidenceThreshold")
    if not 0.0 <= threshold <= 1.0:
        raise ProtocolError(f"parameters.confidenceThreshold must be in [0, 1], got {threshold}")
    max_predictions = _number(raw.get("maxPredictions", DEFAULT_MAX_PREDICTIONS), "maxPredictions")
    if max_predictions != int(max_predictions) or max_predictions < 1:
        raise ProtocolError(
            f"parameters.maxPredictions must be a positive integer, got {max_predictions}"
        )
    return PredictParameters(threshold, int(max_predictions))


def parse_instances(body: object, max_instances: int) -> list[bytes]:
    """The decoded image bytes of each instance, in order."""
    if not isinstance(body, dict):
        raise ProtocolError("request body must be a JSON object")
    instances = body.get("instances")
    if not isinstance(instances, list) or not instances:
        raise ProtocolError("instances must be a non-empty list")
    if len(instances) > max_instances:
        raise ProtocolError(f"too many instances: {len(instances)} > {max_instances}")
    out = []
    for index, instance in enumerate(instances):
        content = instance.get("content") if isinstance(instance, dict) else None
        if not isinstance(content, str):
            raise ProtocolError(f"instances[{index}]: missing base64 'content'")
        try:
            out.append(base64.b64decode(content, validate=True))
        except (binascii.Error, ValueError) as exc:
            raise ProtocolError(f"instances[{index}]: content is not valid base64") from exc
    return out


def prediction(probabilities: np.ndarray, labels: Sequence[str], params: PredictParameters) -> dict:
    """One image's prediction: labels at or above the threshold, best first, at most K."""
    order = np.argsort(-probabilities, kind="stable")[: params.max_predictions]
    keep = [int(i) for i in order if probabilities[i] >= params.confidence_threshold]
    return {
        "ids": [str(i) for i in keep],
        "displayNames": [labels[i] for i in keep],
        "confidences": [float(probabilities[i]) for i in keep],
    }
