"""Model architectures in plain torch (no torchvision): ``small`` CNN and ``resnet18``.

Every network takes a float batch (N, 3, H, W) in [0, 1] and normalizes it itself, so
the model file carries its preprocessing and the server needs nothing else.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
from torch import nn

from providers.errors import ProviderOptionError

ARCHS = ("small", "resnet18")


class Normalize(nn.Module):
    """Per-channel colour normalization ``(x - mean) / std`` held as buffers."""

    mean: torch.Tensor
    std: torch.Tensor

    def __init__(self, mean: Sequence[float], std: Sequence[float]) -> None:
        super().__init__()
        self.register_buffer("mean", torch.tensor(list(mean), dtype=torch.float32).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(list(std), dtype=torch.float32).view(1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return (x - self.mean) / self.std


def _conv_bn(c_in: int, c_out: int, stride: int = 1) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(c_in, c_out, 3, stride=stride, padding=1, bias=False),
        nn.BatchNorm2d(c_out),
        nn.ReLU(inplace=True),
    )


def small_cnn(n_classes: int, widths: Sequence[int] = (32, 64, 128, 128)) -> nn.Module:
    """Four conv blocks (conv-BN-ReLU, then 2×2 max-pool), global average pool, linear.

    The pools round up (``ceil_mode``): the trainer's smallest inputs (8 px) would
    otherwise shrink to nothing before the fourth pool; at even sides ≥ 16 it changes
    nothing.
    """
    layers: list[nn.Module] = []
    c_in = 3
    for width in widths:
        layers += [_conv_bn(c_in, width), nn.MaxPool2d(2, ceil_mode=True)]
        c_in = width
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(0.1), nn.Linear(c_in, n_classes)]
    return nn.Sequential(*layers)


class _BasicBlock(nn.Module):
    def __init__(self, c_in: int, c_out: int, stride: int) -> None:
        super().__init__()
        self.body = nn.Sequential(
            _conv_bn(c_in, c_out, stride),
            nn.Conv2d(c_out, c_out, 3, padding=1, bias=False),
            nn.BatchNorm2d(c_out),
        )
        self.shortcut: nn.Module = nn.Identity()
        if stride != 1 or c_in != c_out:
            self.shortcut = nn.Sequential(
                nn.Conv2d(c_in, c_out, 1, stride=stride, bias=False), nn.BatchNorm2d(c_out)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.relu(self.body(x) + self.shortcut(x))


def resnet18(n_classes: int) -> nn.Module:
    """ResNet-18 with the CIFAR stem (3×3 conv, no max-pool): suited to 32–64 px inputs."""
    layers: list[nn.Module] = [_conv_bn(3, 64)]
    c_in = 64
    for width, stride in ((64, 1), (128, 2), (256, 2), (512, 2)):
        layers += [_BasicBlock(c_in, width, stride), _BasicBlock(width, width, 1)]
        c_in = width
    layers += [nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c_in, n_classes)]
    return nn.Sequential(*layers)


def build_model(
    arch: str, n_classes: int, mean: Sequence[float], std: Sequence[float]
) -> nn.Module:
    """The network ``arch`` with its input normalization in front."""
    if arch == "small":
        body = small_cnn(n_classes)
    elif arch == "resnet18":
        body = resnet18(n_classes)
    else:
        raise ProviderOptionError(
            f"unknown architecture {arch!r}; choose one of {', '.join(ARCHS)}"
        )
    return nn.Sequential(Normalize(mean, std), body)
