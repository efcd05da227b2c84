"""The saved model: weights plus everything needed to serve them, loaded without pickle code.

One file written by ``torch.save`` holding only tensors and a JSON string, so
``torch.load(weights_only=True)`` can read it and loading never runs arbitrary code.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch
from torch import nn

from providers.errors import ProviderConfigError
from providers.local.arch import build_model

FORMAT = "isotope-local-model/1"


@dataclass(frozen=True)
class ModelMeta:
    """What the server needs besides the weights."""

    arch: str
    labels: list[str]
    input_size: int  # images are resized to input_size × input_size RGB
    mean: list[float]
    std: list[float]
    extra: dict = field(default_factory=dict)  # training facts: accuracy, epochs, seed...


class ModelFileError(ProviderConfigError, ValueError):
    """A model file is missing, unreadable, or not one of ours; the message names the path."""


def save_model(path: Path, model: nn.Module, meta: ModelMeta) -> Path:
    """Write ``model``'s weights and ``meta`` to ``path`` atomically; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    payload = {"format": FORMAT, "meta": json.dumps(asdict(meta)), "state_dict": state}
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save(payload, handle)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def load_model(path: Path, device: str | torch.device = "cpu") -> tuple[nn.Module, ModelMeta]:
    """Rebuild the network from ``path`` in eval mode on ``device``."""
    path = Path(path)
    if not path.is_file():
        raise ModelFileError(f"{path}: no such model file")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises several types for corrupt or unsafe files
        raise ModelFileError(
            f"{path}: not a readable model file ({exc.__class__.__name__})"
        ) from exc
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise ModelFileError(f"{path}: not an isotope model file (expected format {FORMAT})")
    try:
        meta = ModelMeta(**json.loads(payload["meta"]))
        model = build_model(meta.arch, len(meta.labels), meta.mean, meta.std)
        model.load_state_dict(payload["state_dict"])
    except (KeyError, TypeError, ValueError, RuntimeError) as exc:
        raise ModelFileError(f"{path}: model file is inconsistent: {exc}") from exc
    return model.to(device).eval(), meta
