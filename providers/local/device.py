"""Pick the torch device: the GPU when there is one."""

from __future__ import annotations

import torch

from providers.errors import ProviderOptionError


def resolve_device(device: str) -> torch.device:
    """``auto`` → CUDA when available, else CPU; ``cuda`` without a GPU is an error."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if device == "cuda" and not torch.cuda.is_available():
        raise ProviderOptionError("--device cuda: no CUDA GPU is available (use auto or cpu)")
    if device not in ("cpu", "cuda"):
        raise ProviderOptionError(f"unknown device {device!r}; choose auto, cpu or cuda")
    return torch.device(device)
